// runtime-js's Web APIs and console on real V8 (CONVEX_ABI.md §1.3): each expectation is what a
// browser or Node gives for the same expression.
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/evaluator.h"
#include "worker/module_hash.h"
#include "worker/watchdog.h"

namespace isobar::worker {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

class WebApiTest : public ::testing::Test {
 protected:
  // The expression's value as JSON (failures as "ERROR <status>").
  std::string Eval(const std::string& source) {
    InvocationResult r = evaluator_.Eval(InvocationId(++next_), source, absl::Seconds(2));
    logs_ = r.logs;
    return r.result_json.ok() ? *r.result_json : absl::StrCat("ERROR ", r.result_json.status().ToString());
  }
  // A query (deterministic) returning the expression's value, with `seed`.
  std::string Query(const std::string& expression, uint64_t seed) {
    const std::string source = absl::StrCat(
        "export const fn = { isQuery: true, invokeQuery: async () => JSON.stringify(await (async () => ", expression, ")()) };");
    v1::Invoke invoke;
    invoke.set_invocation_id(++next_);
    invoke.set_seed(seed);
    invoke.set_unix_time_ms(1763769600000.0);
    v1::FunctionCall* call = invoke.mutable_function();
    call->set_kind(v1::FunctionCall::QUERY);
    call->set_module_path("q.js");
    call->set_export_name("fn");
    call->set_args_json("[{}]");
    *call->add_modules() = ModuleFromSource("q.js", source);
    InvocationResult r = evaluator_.Run(invoke);
    return r.result_json.ok() ? *r.result_json : absl::StrCat("ERROR ", r.result_json.status().ToString());
  }

  DenyAllHostCalls host_;
  Watchdog watchdog_;
  Evaluator evaluator_{host_, watchdog_, {}};
  std::vector<LogLine> logs_;
  uint64_t next_ = 0;
};

TEST_F(WebApiTest, Globals) {
  EXPECT_EQ(Eval("[self === globalThis, typeof window, typeof Convex.jsSyscall, typeof require]"),
            R"([true,"undefined","function","undefined"])");
}

TEST_F(WebApiTest, Url) {
  EXPECT_EQ(Eval(R"(const u = new URL("https://user:pw@EXAMPLE.com:443/a/./b/../c d?x=1&y=a b#frag");
                    [u.href, u.origin, u.host, u.pathname, u.search, u.hash, u.searchParams.get("y")])"),
            R"(["https://user:pw@example.com/a/c%20d?x=1&y=a%20b#frag","https://example.com","example.com","/a/c%20d","?x=1&y=a%20b","#frag","a b"])");
  EXPECT_EQ(Eval(R"([new URL("../x?q", "http://h/a/b/c").href, new URL("//o/p", "https://h/").href,
                     new URL("http://0x7f.1/").hostname, new URL("file:///etc/passwd").pathname,
                     new URL("mailto:a@b").pathname, URL.canParse("nope"), new URL("http://[::1]:3000/").host])"),
            R"(["http://h/a/x?q","https://o/p","127.0.0.1","/etc/passwd","a@b",false,"[::1]:3000"])");
  EXPECT_THAT(Eval(R"(new URL("http://a:99999/"))"), HasSubstr("TypeError: Invalid URL: 'http://a:99999/'"));  // as Convex words it
  EXPECT_THAT(Eval(R"(new URL("/relative"))"), HasSubstr("TypeError: Invalid URL"));
  // searchParams writes through to the URL.
  EXPECT_EQ(Eval(R"(const u = new URL("https://h/p?a=1"); u.searchParams.append("b", "x y&"); u.searchParams.delete("a"); u.href)"),
            R"("https://h/p?b=x+y%26")");
}

// Hosts as the WHATWG parser writes them: IPv6 compressed, internationalized labels in Punycode.
TEST_F(WebApiTest, UrlHosts) {
  EXPECT_EQ(Eval(R"(["http://[::1]/", "http://[1::]/", "http://[::ffff:1.2.3.4]/", "http://[1:0:0:2:0:0:0:3]/",
                     "http://bücher.de/", "http://例え.テスト/", "http://ÉCOLE.fr/"].map((u) => new URL(u).host))"),
            R"(["[::1]","[1::]","[::ffff:102:304]","[1:0:0:2::3]","xn--bcher-kva.de","xn--r8jz45g.xn--zckzah","xn--cole-9oa.fr"])");
  EXPECT_THAT(Eval(R"(new URL("http://[1::2::3]/"))"), HasSubstr("Invalid URL"));
  EXPECT_THAT(Eval(R"(new URL("file://h:8000/x"))"), HasSubstr("Invalid URL"));
}

TEST_F(WebApiTest, UrlSearchParams) {
  EXPECT_EQ(Eval(R"(const p = new URLSearchParams("?a=1&a=2&b=%20x+y&c"); p.sort(); p.set("a", "3");
                    [p.getAll("a"), p.get("b"), p.get("c"), p.has("z"), p.size, p.toString(), [...p.keys()]])"),
            // As Convex's polyfill: no size; set removes the pairs of the name and appends one at the end.
            R"([["3"]," x y","",false,null,"b=+x+y&c=&a=3",["b","c","a"]])");
  EXPECT_EQ(Eval(R"(new URLSearchParams({q: "ü", n: 1}).toString())"), R"("q=%C3%BC&n=1")");
}

TEST_F(WebApiTest, TextEncodingAndBase64) {
  EXPECT_EQ(Eval(R"(Array.from(new TextEncoder().encode("h\u00e9\ud83d\ude00\ud800")))"),
            "[104,195,169,240,159,152,128,239,191,189]");
  EXPECT_EQ(Eval(R"(new TextDecoder().decode(new Uint8Array([0xEF, 0xBB, 0xBF, 104, 0xFF, 0xE2, 0x82])))"),
            "\"h\uFFFD\uFFFD\"");  // 0xFF alone, then an incomplete E2 82: one replacement each
  // Convex's decode in fatal mode returns undefined for invalid data (it does not throw).
  EXPECT_EQ(Eval(R"(typeof new TextDecoder("utf-8", {fatal: true}).decode(new Uint8Array([0xFF])))"), R"("undefined")");
  EXPECT_EQ(Eval(R"([new TextDecoder("latin1").decode(new Uint8Array([0x41, 0x80, 0xE9])),
                     new TextDecoder("utf-16le").decode(new Uint8Array([0x41, 0, 0x3D, 0xD8, 0x00, 0xDE])),
                     new TextDecoder("utf-16be").decode(new Uint8Array([0, 0x41, 0xD8])),
                     new TextDecoder(" UTF-16 ").encoding])"),
            R"(["A€é","A😀","A�","utf-16le"])");
  EXPECT_EQ(Eval(R"(const d = new TextDecoder(); d.decode(new Uint8Array([0xE2, 0x82]), {stream: true}) + d.decode(new Uint8Array([0xAC])))"),
            R"("€")");
  EXPECT_EQ(Eval(R"([btoa("hello"), atob("aGVsbG8="), atob(" aGk "), btoa(String.fromCharCode(255))])"),
            R"(["aGVsbG8=","hello","hi","/w=="])");
  EXPECT_THAT(Eval(R"(btoa("€"))"), HasSubstr("InvalidCharacterError"));
  EXPECT_THAT(Eval(R"(atob("a"))"), HasSubstr("InvalidCharacterError"));
}

TEST_F(WebApiTest, StructuredClone) {
  EXPECT_EQ(Eval(R"(const o = {d: new Date(5), m: new Map([[1, {x: [1, 2]}]]), s: new Set(["a"]), b: new Uint8Array([1, 2]), r: /x/g};
                    o.self = o; const c = structuredClone(o);
                    [c !== o, c.self === c, c.d.getTime(), c.m.get(1).x[1], c.s.has("a"), c.b[1], c.r.flags, c.m.get(1) !== o.m.get(1)])"),
            "[true,true,5,2,true,2,\"g\",true]");
  EXPECT_THAT(Eval("structuredClone(() => 1)"), HasSubstr("Error: could not deserialize value"));  // Convex's words
  EXPECT_THAT(Eval("structuredClone(Symbol('s'))"), HasSubstr("Error: could not deserialize value"));
}

TEST_F(WebApiTest, HeadersRequestResponseBlob) {
  EXPECT_EQ(Eval(R"(const h = new Headers({"Content-Type": "a", "X-B": "1"}); h.append("x-b", "2"); h.append("Set-Cookie", "c=1"); h.append("set-cookie", "d=2");
                    [[...h], h.get("X-B"), h.has("content-type"), h.getSetCookie()])"),
            // As Convex's polyfill: pairs in insertion order, not combined when iterated.
            R"([[["content-type","a"],["x-b","1"],["x-b","2"],["set-cookie","c=1"],["set-cookie","d=2"]],"1, 2",true,["c=1","d=2"]])");
  EXPECT_THAT(Eval(R"(new Headers({"bad name": "x"}))"), HasSubstr("TypeError"));
  EXPECT_EQ(Eval(R"((async () => {
                      const r = new Response(JSON.stringify({a: 1}), {status: 201, headers: {"content-type": "application/json"}});
                      const q = new Request("https://h/p", {method: "post", body: "hi"});
                      const j = Response.json({b: 2});
                      return [r.status, r.ok, await r.json(), r.bodyUsed, q.method, q.headers.get("content-type"), await q.text(),
                              await j.json(), j.headers.get("content-type"), Response.error().type, Response.error().status];
                    })())"),
            // Convex's Response.error() is a plain 500.
            R"([201,true,{"a":1},true,"POST","text/plain;charset=UTF-8","hi",{"b":2},"application/json","default",500])");
  EXPECT_THAT(Eval("new Response('x', {status: 99})"), HasSubstr("RangeError"));
  EXPECT_THAT(Eval("new Request('https://h/', {method: 'GET', body: 'x'})"), HasSubstr("TypeError"));
  EXPECT_EQ(Eval(R"((async () => { const b = new Blob(["ab", new Uint8Array([99]), new Blob(["d"])], {type: "Text/Plain"});
                     return [b.size, b.type, await b.text(), await b.slice(1, -1).text(), new File(["x"], "f.txt").name]; })())"),
            R"([4,"text/plain","abcd","bc","f.txt"])");
}

TEST_F(WebApiTest, AbortControllerAndEvents) {
  EXPECT_EQ(Eval(R"(const c = new AbortController(); let seen = [];
                    c.signal.addEventListener("abort", (e) => seen.push(e.type), {once: true});
                    c.signal.onabort = () => seen.push("on");
                    c.abort(); c.abort();
                    [seen, c.signal.aborted, c.signal.reason.name, c.signal.reason instanceof DOMException, typeof AbortSignal.abort])"),
            // Convex's polyfill (abortcontroller-polyfill): an Error named AbortError, no AbortSignal.abort,
            R"([["on","abort","on"],true,"AbortError",false,"undefined"])");  // a second abort dispatches again
  EXPECT_EQ(Eval("[new AbortSignal().aborted, new AbortSignal() instanceof EventTarget]"), "[false,false]");
  // globalThis's listener methods work before anything made the event classes.
  EXPECT_EQ(Eval(R"(let n = 0; addEventListener("x", () => n++); dispatchEvent(new Event("x")); n)"), "1");
  // Events dispatched on an EventTarget, and globalThis is one.
  EXPECT_EQ(Eval(R"(const t = new EventTarget(); const e = new Event("x", {cancelable: true}); const log = [];
                    t.addEventListener("x", (ev) => { log.push(ev.eventPhase, ev.currentTarget === t); ev.preventDefault(); });
                    [t.dispatchEvent(e), log, e.eventPhase, e.currentTarget, globalThis instanceof EventTarget,
                     Object.prototype.toString.call(globalThis)])"),
            R"([false,[2,true],0,null,true,"[object Window]"])");
}

// multipart/form-data: seeded random forms survive writing and reading; random bodies under a
// multipart Content-Type are read or refused with a TypeError, never anything else.
TEST_F(WebApiTest, MultipartFormDataRoundTripsAndRefusesGarbage) {
  EXPECT_EQ(Eval(R"((async () => {
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 8;
    const chars = ["a", "b", "=", "&", ";", "é", "😀", " ", "\t", "-"];
    const text = (n) => Array.from({length: n}, () => chars[next() % chars.length]).join("");
    for (let round = 0; round < 60; round++) {
      const form = new FormData();
      const expected = [];
      for (let i = next() % 5; i >= 0; i--) {
        const name = text(1 + next() % 8);
        if (next() % 2) {
          const value = text(next() % 20);
          form.append(name, value);
          expected.push([name, value]);
        } else {
          const bytes = Uint8Array.from({length: next() % 40}, () => next() & 255);
          form.append(name, new Blob([bytes], {type: next() % 2 ? "image/png" : ""}), text(1 + next() % 6));
          expected.push([name, Array.from(bytes).join(",")]);
        }
      }
      const parsed = await new Response(form).formData();
      const got = [];
      for (const [name, value] of parsed) {
        got.push([name, typeof value === "string" ? value : Array.from(new Uint8Array(await value.arrayBuffer())).join(",")]);
      }
      if (JSON.stringify(got) !== JSON.stringify(expected)) return `round ${round}: ${JSON.stringify(got)}`;
    }
    let refused = 0;
    for (let round = 0; round < 200; round++) {
      const body = Uint8Array.from({length: next() % 120}, () => "--b\r\n:\"name=x;".charCodeAt(next() % 14) || 10);
      const r = new Response(body, {headers: {"content-type": "multipart/form-data; boundary=b"}});
      try { await r.formData(); } catch (e) { if (!(e instanceof TypeError)) return `threw ${e}`; refused++; }
    }
    return refused > 0 ? "ok" : "nothing refused";
  })())"), R"("ok")");
}

TEST_F(WebApiTest, CryptoInActionsAndEvals) {
  EXPECT_THAT(Eval("crypto.randomUUID()"), MatchesRegex(R"("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")"));
  EXPECT_NE(Eval("crypto.randomUUID()"), Eval("crypto.randomUUID()"));
  // SHA-256("abc") and SHA-1("abc"), FIPS 180-2 test vectors.
  EXPECT_EQ(Eval(R"(crypto.subtle.digest("SHA-256", new TextEncoder().encode("abc")).then(b => Array.from(new Uint8Array(b), x => x.toString(16).padStart(2, "0")).join("")))"),
            R"("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")");
  EXPECT_EQ(Eval(R"(crypto.subtle.digest({name: "sha-1"}, new TextEncoder().encode("abc")).then(b => new Uint8Array(b).length))"), "20");
  // Convex reads the algorithm with serde: an unknown hash is a plain Error.
  EXPECT_THAT(Eval(R"(crypto.subtle.digest("MD5", new Uint8Array(1)))"),
              HasSubstr("Error: unknown variant `MD5`, expected one of `SHA-1`, `SHA-256`, `SHA-384`, `SHA-512`"));
  EXPECT_THAT(Eval("crypto.getRandomValues(new Uint8Array(65537))"), HasSubstr("TypeError: Byte length (65537) exceeds"));  // Convex's words
  EXPECT_THAT(Eval("crypto.getRandomValues(new Float64Array(1))"), HasSubstr("TypeMismatchError"));
}

// Every asymmetric scheme signs, verifies and survives an export/import round trip in each format
// its keys allow (conformance cases check the answers against Node's).
TEST_F(WebApiTest, AsymmetricKeysRoundTrip) {
  EXPECT_EQ(Eval(R"((async () => {
    const s = crypto.subtle, data = new TextEncoder().encode("m"), out = [];
    const exponent = new Uint8Array([1, 0, 1]);
    const schemes = [
      [{name: "RSASSA-PKCS1-v1_5", modulusLength: 1024, publicExponent: exponent, hash: "SHA-256"}, "RSASSA-PKCS1-v1_5"],
      [{name: "RSA-PSS", modulusLength: 1024, publicExponent: exponent, hash: "SHA-1"}, {name: "RSA-PSS", saltLength: 20}],
      [{name: "ECDSA", namedCurve: "P-256"}, {name: "ECDSA", hash: "SHA-256"}],
      [{name: "ECDSA", namedCurve: "P-384"}, {name: "ECDSA", hash: "SHA-512"}],
      ["Ed25519", "Ed25519"],
    ];
    for (const [gen, alg] of schemes) {
      const {privateKey, publicKey} = await s.generateKey(gen, true, ["sign", "verify"]);
      const sig = await s.sign(alg, privateKey, data);
      for (const [format, key, usage] of [["jwk", privateKey, "sign"], ["pkcs8", privateKey, "sign"],
                                          ["jwk", publicKey, "verify"], ["spki", publicKey, "verify"]]) {
        const again = await s.importKey(format, await s.exportKey(format, key), gen, true, [usage]);
        out.push(usage === "sign" ? await s.verify(alg, publicKey, await s.sign(alg, again, data), data)
                                  : await s.verify(alg, again, sig, data));
      }
    }
    return out.every((ok) => ok) && out.length === 20;
  })())"), "true");
}

// Keys of other algorithms are refused before they are decoded (decoding a DSA private key computes
// g^x mod p, as costly as its sizes make it), in Convex's words; RSA keys are bounded in size.
TEST_F(WebApiTest, KeysOfOtherAlgorithmsAndOversizedKeysAreRefused) {
  const std::string dsa_pkcs8 =
      "MIIBWwIBADCCATQGByqGSM44BAEwggEnAoGBAJXV3Ob1Ld3Myi4hC+1bu/LFltxY4ukqbtUOnvlgsBJ08kOtY5ap2p/LR11B "
      "8E0KLkoSp/e9X5H8Fcmk+3rNVTj0iYK1oH2Mth/glqP2BgmASBmde1CNS50sKnXa1llWr9vpuBhz5gpsBhI7PHvBtR+oyoGB "
      "c3yYcAv/iilqFd1rAh0A2iPq4yqnbC3tRwNtILhIOCDzj487Tuye4DLDIwKBgQCKejIAVtjZZ0YxBA49PkC3mGPIextMuFir "
      "zGLipv3odVmhYrJ9xXsgzVazp5GVTb1wrIrfgZsl5H7Xex3K3wCrt3tf23ySvGC9JVkxOL0RjOsUgw4OgNg8igO+1i9FCqyS "
      "M+zKMFMGSpp7Zf27ZiTtGzJ96uYvV7yatyxAdOHzdgQeAhx3TNU8baMR6gjqcN9kEvj2lFjCrJqca+C9kCIj";
  EXPECT_THAT(Eval(absl::StrCat(R"(crypto.subtle.importKey("pkcs8", Uint8Array.from(atob(")", dsa_pkcs8,
                                R"("), (c) => c.charCodeAt(0)), {name: "RSA-PSS", hash: "SHA-256"}, false, ["sign"]))")),
              HasSubstr("DataError: PrivateKeyInfo algorithm is not rsaEncryption"));
  EXPECT_THAT(Eval(R"(crypto.subtle.generateKey({name: "RSA-PSS", modulusLength: 1024, hash: "SHA-256",
                                                 publicExponent: new Uint8Array(9).fill(255)}, false, ["sign"]))"),
              HasSubstr("OperationError"));
}

// Arbitrary bytes and JWKs never crash the importers: each is refused with an error or makes a key.
TEST_F(WebApiTest, AsymmetricImportOfGarbageIsRefused) {
  EXPECT_EQ(Eval(R"((async () => {
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 16;
    const algorithms = [{name: "ECDSA", namedCurve: "P-256"}, {name: "ECDH", namedCurve: "P-521"}, "Ed25519", "X25519",
                        {name: "RSA-OAEP", hash: "SHA-256"}];
    let refused = 0;
    for (let i = 0; i < 400; i++) {
      const bytes = Uint8Array.from({length: next() % 140}, next);
      if (i % 3 === 0 && bytes.length > 2) { bytes[0] = 0x30; bytes[1] = bytes.length - 2; }
      const algorithm = algorithms[i % algorithms.length];
      const format = ["spki", "pkcs8", "raw", "jwk"][i % 4];
      const data = format === "jwk" ? {kty: ["EC", "OKP", "RSA"][i % 3], crv: "P-256", x: btoa(String.fromCharCode(...bytes)),
                                       y: "AA", n: "AQAB", e: "AQAB", d: i % 2 ? "AA" : undefined} : bytes;
      try { await crypto.subtle.importKey(format, data, algorithm, true, []); } catch (e) { refused++; }
    }
    return refused;
  })())"), "400");
}

TEST_F(WebApiTest, CryptoIsSeededInQueries) {
  const std::string expression = "[crypto.randomUUID(), Array.from(crypto.getRandomValues(new Uint8Array(8))), Math.random()]";
  const std::string a = Query(expression, 1);
  EXPECT_THAT(a, ::testing::StartsWith("[\""));
  EXPECT_EQ(a, Query(expression, 1));
  EXPECT_NE(a, Query(expression, 2));
  EXPECT_EQ(Query("[Date.now(), new Date().getTime(), performance.now()]", 1), "[1763769600000,1763769600000,0]");
}

// As Convex's runtime formats console arguments: each by object-inspect with Convex's options, joined
// by spaces; no format specifiers. (The expected texts are what Node prints with the same package and
// options.) Convex's console has no assert or count.
TEST_F(WebApiTest, ConsoleFormatsAsConvex) {
  const std::string missing = Eval(R"(console.log("%s is %d%%", "x", 42, {a: 1, b: [1, "s", {c: new Map([[1, 2]])}]}, null, undefined, 5n, -0);
          console.info(new Error("boom").message, [1, [2, [3, [4]]]], new Set([1]), Symbol("s"), function named() {});
          console.warn({"needs quotes": true, nested: {deep: {deeper: {deepest: 1}}}});
          const o = {}; o.self = o; console.error(o);
          console.debug("%o|%j|%i|%f", [1], {a: 1}, 4.7, "2.5");
          console.trace("here");
          [typeof console.assert, typeof console.count, typeof console.table].join())");
  ASSERT_EQ(logs_.size(), 6u);
  EXPECT_EQ(logs_[0].message,
            "'%s is %d%%' 'x' 42 {\n  a: 1,\n  b: [\n    1,\n    's',\n    {\n      c: Map (1) {\n        1 => 2\n"
            "      }\n    }\n  ]\n} null undefined 5n -0");
  EXPECT_EQ(logs_[1].level, "info");
  EXPECT_EQ(logs_[1].message, "'boom' [ 1, [ 2, [ 3, [ 4 ] ] ] ] Set (1) {\n  1\n} Symbol(s) [Function: named]");
  EXPECT_EQ(logs_[2].level, "warn");
  EXPECT_EQ(logs_[2].message,
            "{\n  'needs quotes': true,\n  nested: {\n    deep: {\n      deeper: {\n        deepest: 1\n      }\n"
            "    }\n  }\n}");
  EXPECT_EQ(logs_[3].message, "{\n  self: [Circular]\n}");
  EXPECT_EQ(logs_[4].level, "debug");
  EXPECT_EQ(logs_[4].message, "'%o|%j|%i|%f' [ 1 ] {\n  a: 1\n} 4.7 '2.5'");
  EXPECT_EQ(logs_[5].level, "log");
  EXPECT_THAT(logs_[5].message, ::testing::StartsWith("'here' \n    at "));
  EXPECT_EQ(missing, R"("undefined,undefined,undefined")");
}

TEST_F(WebApiTest, JsSyscallsConvertHttpRequestsAndResponses) {
  EXPECT_EQ(Eval(R"((async () => {
                      const request = Convex.jsSyscall("requestFromConvexJson", {convexJson: {url: "https://h/hello?x=1", method: "POST",
                          headerPairs: [["content-type", "application/json"]], body: btoa('{"name":"ann"}')}});
                      const body = await request.json();
                      const out = Convex.jsSyscall("convexJsonFromResponse", {response: new Response("ok", {status: 202, statusText: "Accepted"})});
                      return [request instanceof Request, request.method, new URL(request.url).pathname, body.name, out];
                    })())"),
            R"([true,"POST","/hello","ann",{"status":202,"statusText":"Accepted","headerPairs":[["content-type","text/plain;charset=UTF-8"]],"body":"b2s="}])");
  EXPECT_THAT(Eval(R"(Convex.jsSyscall("convexJsonFromResponse", {response: {status: 200}}))"), HasSubstr("HTTP actions must return a Response"));
  EXPECT_THAT(Eval(R"(Convex.jsSyscall("nope", {}))"), HasSubstr("Unknown JS syscall: nope"));
}

TEST_F(WebApiTest, StreamBodies) {
  // A Response or Request made from a ReadableStream: read whole by text(), teed by clone(), once only.
  EXPECT_EQ(Eval(R"((async () => {
                      const make = () => new ReadableStream({start(c) { c.enqueue(new TextEncoder().encode("ab")); c.enqueue(new Uint8Array([99])); c.close(); }});
                      const r = new Response(make(), {headers: {"x": "1"}});
                      const copy = r.clone();
                      const q = new Request("https://h/", {method: "POST", body: make(), duplex: "half"});
                      const texts = [await r.text(), await copy.text(), await q.text(), r.bodyUsed];
                      let again;
                      try { await r.text(); } catch (e) { again = e.constructor.name; }
                      return [...texts, again, r.body instanceof ReadableStream, r.headers.get("content-type")];
                    })())"),
            R"(["abc","abc","abc",true,"TypeError",true,null])");
  // Chunks must be bytes; a stream body is not for a status that has none; convexJsonFromResponse
  // (the convex package's runRequest) wants bytes.
  EXPECT_THAT(Eval(R"(new Response(new ReadableStream({start(c) { c.enqueue("text"); c.close(); }})).text())"),
              HasSubstr("TypeError"));
  EXPECT_THAT(Eval(R"(new Response(new ReadableStream(), {status: 204}))"), HasSubstr("cannot have a body"));
  EXPECT_THAT(Eval(R"(Convex.jsSyscall("convexJsonFromResponse", {response: new Response(new ReadableStream())}))"),
              HasSubstr("only be returned from an HTTP action"));
}

// A body decoded past the isolate's ArrayBuffer budget is a RangeError for the code that asked, not
// the end of the worker process (and of every invocation it runs).
TEST_F(WebApiTest, LargeBodiesPastTheArrayBufferBudgetAreARangeError) {
  EXPECT_THAT(Eval(R"((() => {
                      const held = new Uint8Array(60 << 20);
                      try {
                        Convex.jsSyscall("requestFromConvexJson", {convexJson: {url: "https://h/", method: "POST",
                            headerPairs: [], body: "AAAA".repeat(2 << 20)}});
                        return "decoded " + held.length;
                      } catch (e) {
                        return e.name + ": " + e.message;
                      }
                    })())"),
              HasSubstr("RangeError: Array buffer allocation failed"));
  // And the isolate goes on.
  EXPECT_EQ(Eval("1 + 1"), "2");
}

}  // namespace
}  // namespace isobar::worker
