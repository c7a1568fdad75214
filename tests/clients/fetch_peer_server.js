// The outside API that actions fetch from in tests/fetch_test.cc: a plain Node HTTP server on
// 127.0.0.1 (an ephemeral port, printed as "port N"), which counts every connection made to it so a
// test can tell that a refused fetch reached nothing.
//
//   /hello                       "hello", with x-test and two set-cookie headers
//   /echo                        what it received, as JSON {method, headers, body (UTF-8), hex, length}
//   /big?n=BYTES                 BYTES bytes (byte i is i % 251), written as the client takes them
//   /redirect?status=N&to=URL    a redirect
//   /status?code=N               an empty answer with that status
//   /slow                        never answers
//   /connections                 how many connections have been made to it
const http = require("http");
const zlib = require("zlib");

let connections = 0;
const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://peer");
  const chunks = [];
  try {
    for await (const chunk of req) chunks.push(chunk);
  } catch {
    return;  // the client went away mid-request (an aborted fetch)
  }
  const body = Buffer.concat(chunks);
  switch (url.pathname) {
    case "/hello":
      res.setHeader("x-test", "one");
      res.setHeader("set-cookie", ["a=1", "b=2"]);
      res.end("hello");
      return;
    case "/echo":
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({
        method: req.method, headers: req.headers, body: body.toString("utf8"), hex: body.toString("hex"), length: body.length,
      }));
      return;
    case "/gzip":
      res.setHeader("content-encoding", "gzip");
      res.end(zlib.gzipSync("squeezed ".repeat(100)));
      return;
    case "/big": {
      const n = Number(url.searchParams.get("n"));
      res.setHeader("content-length", String(n));
      let at = 0;
      const pattern = Buffer.alloc(251 * 300);
      for (let i = 0; i < pattern.length; i++) pattern[i] = i % 251;
      const write = () => {
        while (at < n) {
          const size = Math.min(pattern.length, n - at);
          const part = pattern.subarray(0, size);  // starts at a multiple of 251: the pattern continues
          at += size;
          if (!res.write(part)) return res.once("drain", write);
        }
        res.end();
      };
      write();
      return;
    }
    case "/redirect":
      res.writeHead(Number(url.searchParams.get("status")), { location: url.searchParams.get("to") });
      res.end();
      return;
    case "/status":
      res.writeHead(Number(url.searchParams.get("code")));
      res.end();
      return;
    case "/slow":
      return;  // never answered
    case "/connections":
      res.end(String(connections));
      return;
    default:
      res.writeHead(404);
      res.end("no such route");
  }
});
server.on("connection", () => connections++);
server.listen(0, "127.0.0.1", () => console.log(`port ${server.address().port}`));
