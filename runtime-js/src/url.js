// Prelude fragment: URL and URLSearchParams (WHATWG URL; internationalized hosts by lower case, NFC
// and Punycode, not the full UTS 46 mapping table).

const kSpecialPorts = { "http:": "80", "https:": "443", "ws:": "80", "wss:": "443", "ftp:": "21", "file:": "" };
const isSpecial = (protocol) => Object.prototype.hasOwnProperty.call(kSpecialPorts, protocol);

// Percent-encodes the UTF-8 bytes of every character of `s` that is a C0 control, a space (unless
// `keepSpace`), not ASCII, or in `set`.
function percentEncode(s, set, keepSpace = false) {
  let out = "";
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if ((c > 0x20 || (keepSpace && c === 0x20)) && c < 0x7f && !set.includes(ch)) {
      out += ch;
    } else {
      for (const b of utf8Encode(ch)) out += "%" + (b < 16 ? "0" : "") + b.toString(16).toUpperCase();
    }
  }
  return out;
}
const kFragmentSet = ' "<>`';
const kQuerySet = ' "#<>';
const kSpecialQuerySet = " \"#<>'";
const kPathSet = ' "#<>?`{}';
const kUserinfoSet = ' "#<>?`{}/:;=@[\\]^|';

function percentDecodeBytes(s) {
  const bytes = utf8Encode(s);
  const out = [];
  for (let i = 0; i < bytes.length; i++) {
    const hex = String.fromCharCode(bytes[i + 1] ?? 0, bytes[i + 2] ?? 0);
    if (bytes[i] === 0x25 && /^[0-9a-fA-F]{2}$/.test(hex)) {
      out.push(parseInt(hex, 16));
      i += 2;
    } else {
      out.push(bytes[i]);
    }
  }
  return new Uint8Array(out);
}

function parseIPv4Number(part) {
  if (part === "") return NaN;
  if (/^0[xX][0-9a-fA-F]*$/.test(part)) return part.length === 2 ? 0 : parseInt(part.slice(2), 16);
  if (/^0[0-7]+$/.test(part)) return parseInt(part.slice(1), 8);
  if (/^[0-9]+$/.test(part)) return parseInt(part, 10);
  return NaN;
}

// RFC 3492 Punycode of one label's code points.
function punycodeEncode(label) {
  const base = 36, tMin = 1, tMax = 26, skew = 38, damp = 700;
  const codePoints = Array.from(label, (c) => c.codePointAt(0));
  let n = 128, delta = 0, bias = 72;
  let output = codePoints.filter((c) => c < 0x80).map((c) => String.fromCharCode(c)).join("");
  const basicLength = output.length;
  let handled = basicLength;
  if (basicLength > 0) output += "-";
  const adapt = (d, points, first) => {
    d = first ? Math.floor(d / damp) : d >> 1;
    d += Math.floor(d / points);
    let k = 0;
    for (; d > ((base - tMin) * tMax) >> 1; k += base) d = Math.floor(d / (base - tMin));
    return k + Math.floor(((base - tMin + 1) * d) / (d + skew));
  };
  const digit = (d) => String.fromCharCode(d + 22 + (d < 26 ? 75 : 0));
  while (handled < codePoints.length) {
    const m = Math.min(...codePoints.filter((c) => c >= n));
    delta += (m - n) * (handled + 1);
    n = m;
    for (const c of codePoints) {
      if (c < n) delta++;
      if (c !== n) continue;
      let q = delta;
      for (let k = base; ; k += base) {
        const t = k <= bias ? tMin : k >= bias + tMax ? tMax : k - bias;
        if (q < t) break;
        output += digit(t + ((q - t) % (base - t)));
        q = Math.floor((q - t) / (base - t));
      }
      output += digit(q);
      bias = adapt(delta, handled + 1, handled === basicLength);
      delta = 0;
      handled++;
    }
    delta++;
    n++;
  }
  return output;
}

// A host's ASCII form: ideographic full stops are dots; labels outside ASCII become "xn--" Punycode.
function domainToAscii(host) {
  return host.normalize("NFC").replace(/[\u3002\uff0e\uff61]/g, ".").split(".")
    .map((label) => (/[^\x00-\x7f]/.test(label) ? `xn--${punycodeEncode(label)}` : label)).join(".");
}

// An IPv6 address's eight pieces ("::" and a trailing dotted IPv4 part allowed).
function parseIpv6(text) {
  const invalid = () => new TypeError("Invalid IPv6 host");
  const halves = text.split("::");
  if (halves.length > 2) throw invalid();
  const piecesOf = (part) => {
    if (part === "") return [];
    const out = [];
    const groups = part.split(":");
    groups.forEach((group, i) => {
      if (i === groups.length - 1 && group.includes(".")) {
        const octets = group.split(".");
        if (octets.length !== 4 || octets.some((o) => !/^(0|[1-9][0-9]{0,2})$/.test(o) || Number(o) > 255)) throw invalid();
        out.push((Number(octets[0]) << 8) | Number(octets[1]), (Number(octets[2]) << 8) | Number(octets[3]));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(group)) throw invalid();
        out.push(parseInt(group, 16));
      }
    });
    return out;
  };
  const head = piecesOf(halves[0]);
  const tail = halves.length === 2 ? piecesOf(halves[1]) : [];
  if (halves.length === 1 ? head.length !== 8 : head.length + tail.length > 7) throw invalid();
  return [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
}

// Lower-case hex without leading zeros; the first longest run of two or more zero pieces is "::".
function serializeIpv6(pieces) {
  let best = -1, bestLength = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && pieces[j] === 0) j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return pieces.map((p) => p.toString(16)).join(":");
  const hex = (list) => list.map((p) => p.toString(16)).join(":");
  return `${hex(pieces.slice(0, best))}::${hex(pieces.slice(best + bestLength))}`;
}

function parseHost(input, special) {
  if (input.startsWith("[")) {
    if (!input.endsWith("]") || !/^\[[0-9a-fA-F:.]+\]$/.test(input)) throw new TypeError("Invalid IPv6 host");
    return `[${serializeIpv6(parseIpv6(input.slice(1, -1)))}]`;
  }
  if (!special) {
    if (/[\0\t\n\r #/<>?@[\\\]^|]/.test(input)) throw new TypeError("Invalid host");
    return percentEncode(input, "");
  }
  const host = domainToAscii(utf8Decode(percentDecodeBytes(input), false).toLowerCase());
  if (host === "" || /[^\x21-\x7e]/.test(host) || /[\0\t\n\r #%/:<>?@[\\\]^|]/.test(host)) {
    throw new TypeError("Invalid host");
  }
  // An IPv4 address in any of its legacy forms is normalised to dotted decimal.
  const parts = host.split(".");
  if (parts[parts.length - 1] === "" && parts.length > 1) parts.pop();
  const last = parts[parts.length - 1];
  if (/^[0-9]+$/.test(last) || /^0[xX][0-9a-fA-F]*$/.test(last)) {
    const numbers = parts.map(parseIPv4Number);
    if (parts.length > 4 || numbers.some(Number.isNaN)) throw new TypeError("Invalid IPv4 host");
    let address = numbers[numbers.length - 1];
    if (numbers.slice(0, -1).some((n) => n > 255) || address >= 256 ** (5 - numbers.length)) {
      throw new TypeError("Invalid IPv4 host");
    }
    for (let i = 0; i < numbers.length - 1; i++) address += numbers[i] * 256 ** (3 - i);
    return [address >>> 24, (address >>> 16) & 255, (address >>> 8) & 255, address & 255].join(".");
  }
  return host;
}

// Resolves "." and ".." segments.
function normalizePath(segments, special) {
  const out = [];
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i];
    const lower = seg.toLowerCase();
    const isLast = i === segments.length - 1;
    if (seg === ".." || lower === ".%2e" || lower === "%2e." || lower === "%2e%2e") {
      if (out.length > 0) out.pop();
      if (isLast) out.push("");
    } else if (seg === "." || lower === "%2e") {
      if (isLast) out.push("");
    } else {
      out.push(percentEncode(seg, kPathSet));
    }
  }
  return out;
}

// The URL record: {protocol, username, password, hostname, port, path (array or opaque string),
// query (null or string without "?"), fragment (null or string without "#")}.
function parseURL(input, base) {
  let s = String(input).replace(/^[\0-\x20]+|[\0-\x20]+$/g, "").replace(/[\t\n\r]/g, "");
  const record = { protocol: "", username: "", password: "", hostname: null, port: "", path: [], query: null, fragment: null };
  const hashAt = s.indexOf("#");
  if (hashAt >= 0) {
    record.fragment = percentEncode(s.slice(hashAt + 1), kFragmentSet);
    s = s.slice(0, hashAt);
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(s);
  if (scheme === null) {
    if (base === undefined) throw new TypeError(`Invalid URL: ${String(input).slice(0, 200)}`);
    return resolveRelative(s, record, base);
  }
  record.protocol = scheme[1].toLowerCase() + ":";
  let rest = s.slice(scheme[0].length);
  const special = isSpecial(record.protocol);
  if (special) rest = rest.replace(/\\/g, "/");
  if (special && base !== undefined && base.protocol === record.protocol && !rest.startsWith("/")) {
    return resolveRelative(rest, record, base);
  }
  if (special || rest.startsWith("//")) {
    // "file:" keeps an empty host ("file:///etc" has the path "/etc"); other special schemes skip
    // any number of slashes before the host.
    rest = record.protocol === "file:" ? rest.replace(/^\/\//, "") : special ? rest.replace(/^\/*/, "") : rest.slice(2);
    const authorityEnd = rest.search(/[/?]/);
    const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
    rest = authorityEnd < 0 ? "" : rest.slice(authorityEnd);
    parseAuthority(authority, record, special);
  } else if (!rest.startsWith("/")) {
    // An opaque path: "mailto:x@y", "data:text/plain,hi".
    const queryAt = rest.indexOf("?");
    record.path = percentEncode(queryAt >= 0 ? rest.slice(0, queryAt) : rest, "", /*keepSpace=*/true);
    if (queryAt >= 0) record.query = percentEncode(rest.slice(queryAt + 1), kQuerySet);
    return record;
  }
  parsePathAndQuery(rest, record, special);
  return record;
}

function parseAuthority(authority, record, special) {
  const at = authority.lastIndexOf("@");
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(":");
    record.username = percentEncode(colon >= 0 ? userinfo.slice(0, colon) : userinfo, kUserinfoSet);
    record.password = colon >= 0 ? percentEncode(userinfo.slice(colon + 1), kUserinfoSet) : "";
    authority = authority.slice(at + 1);
  }
  const portMatch = /:([^\]]*)$/.exec(authority);
  let host = authority;
  if (portMatch !== null) {
    host = authority.slice(0, portMatch.index);
    const port = portMatch[1];
    if (port !== "") {
      if (!/^[0-9]+$/.test(port) || Number(port) > 65535) throw new TypeError("Invalid URL port");
      if (record.protocol === "file:") throw new TypeError("A file URL has no port");
      record.port = String(Number(port)) === kSpecialPorts[record.protocol] ? "" : String(Number(port));
    }
  }
  if (host === "" && special && record.protocol !== "file:") throw new TypeError("Invalid URL: empty host");
  record.hostname = host === "" ? "" : parseHost(host, special);
  if (record.protocol === "file:" && record.hostname === "localhost") record.hostname = "";
}

function parsePathAndQuery(rest, record, special) {
  const queryAt = rest.indexOf("?");
  const path = queryAt >= 0 ? rest.slice(0, queryAt) : rest;
  if (queryAt >= 0) record.query = percentEncode(rest.slice(queryAt + 1), special ? kSpecialQuerySet : kQuerySet);
  const segments = path === "" ? (special ? [""] : []) : path.replace(/^\//, "").split("/");
  record.path = normalizePath(segments, special);
}

function resolveRelative(s, record, base) {
  if (typeof base.path === "string") {
    if (s === "" ) return { ...base, fragment: record.fragment };
    throw new TypeError(`Invalid URL: cannot resolve against an opaque base`);
  }
  const special = isSpecial(base.protocol);
  if (special) s = s.replace(/\\/g, "/");
  Object.assign(record, { protocol: base.protocol, username: base.username, password: base.password, hostname: base.hostname, port: base.port });
  if (s.startsWith("//")) {
    const whole = parseURL(base.protocol + s);
    whole.fragment = record.fragment;
    return whole;
  }
  if (s.startsWith("/")) {
    parsePathAndQuery(s, record, special);
  } else if (s === "" || s.startsWith("?")) {
    record.path = base.path.slice();
    record.query = s === "" ? base.query : percentEncode(s.slice(1), special ? kSpecialQuerySet : kQuerySet);
  } else {
    const joined = "/" + [...base.path.slice(0, -1), ""].join("/") + s;
    parsePathAndQuery(joined.replace(/^\/+/, "/"), record, special);
  }
  return record;
}

function serializeURL(r, excludeFragment = false) {
  let out = r.protocol;
  if (r.hostname !== null) {
    out += "//";
    if (r.username !== "" || r.password !== "") out += r.username + (r.password !== "" ? ":" + r.password : "") + "@";
    out += r.hostname + (r.port !== "" ? ":" + r.port : "");
  }
  out += typeof r.path === "string" ? r.path : r.path.length > 0 ? "/" + r.path.join("/") : "";
  if (r.query !== null) out += "?" + r.query;
  if (r.fragment !== null && !excludeFragment) out += "#" + r.fragment;
  return out;
}

// application/x-www-form-urlencoded
function formEncode(s) {
  let out = "";
  for (const b of utf8Encode(s)) {
    const ch = String.fromCharCode(b);
    if (/[A-Za-z0-9*\-._]/.test(ch)) out += ch;
    else if (b === 0x20) out += "+";
    else out += "%" + (b < 16 ? "0" : "") + b.toString(16).toUpperCase();
  }
  return out;
}
const formDecode = (s) => utf8Decode(percentDecodeBytes(s.replace(/\+/g, " ")), false);

const webUrl = once(() => {
let urlRecord;  // (url) -> its record; set by URL's static block
let attachSearchParams;  // (params, url) links a URLSearchParams to its URL
class URL {
  #record;
  #searchParams;
  constructor(url, base) {
    // Convex's message names what did not parse, quoted: the base, or the URL.
    const parsing = (text, base) => {
      try {
        return parseURL(text, base);
      } catch (e) {
        if (e instanceof TypeError) throw new TypeError(`Invalid URL: '${text.slice(0, 2000)}'`);
        throw e;
      }
    };
    const baseRecord = base === undefined ? undefined : base instanceof URL ? base.#record : parsing(String(base));
    this.#record = parsing(url instanceof URL ? url.href : String(url), baseRecord);
    this.#searchParams = new URLSearchParams(this.#record.query ?? "");
    attachSearchParams(this.#searchParams, this);
  }
  static canParse(url, base) {
    try {
      new URL(url, base);
      return true;
    } catch {
      return false;
    }
  }
  static parse(url, base) {
    try {
      return new URL(url, base);
    } catch {
      return null;
    }
  }
  #reparse(href) {
    this.#record = parseURL(href);
    attachSearchParams(this.#searchParams, null);
    this.#searchParams = new URLSearchParams(this.#record.query ?? "");
    attachSearchParams(this.#searchParams, this);
  }
  get href() { return serializeURL(this.#record); }
  set href(value) {
    const before = this.href;
    try {
      this.#reparse(String(value));
    } catch (e) {
      if (e instanceof TypeError) throw new TypeError(`Could not parse URL: ${before}`);  // Convex's words
      throw e;
    }
  }
  get origin() {
    const r = this.#record;
    if (!isSpecial(r.protocol) || r.protocol === "file:") return "null";
    return `${r.protocol}//${r.hostname}${r.port !== "" ? ":" + r.port : ""}`;
  }
  get protocol() { return this.#record.protocol; }
  set protocol(value) {
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):?/.exec(String(value));
    if (scheme === null || isSpecial(scheme[1].toLowerCase() + ":") !== isSpecial(this.#record.protocol)) return;
    this.#reparse(scheme[1].toLowerCase() + ":" + serializeURL(this.#record).slice(this.#record.protocol.length));
  }
  get username() { return this.#record.username; }
  set username(value) {
    if (this.#record.hostname) this.#record.username = percentEncode(String(value), kUserinfoSet);
  }
  get password() { return this.#record.password; }
  set password(value) {
    if (this.#record.hostname) this.#record.password = percentEncode(String(value), kUserinfoSet);
  }
  get host() {
    const r = this.#record;
    return r.hostname === null ? "" : r.hostname + (r.port !== "" ? ":" + r.port : "");
  }
  set host(value) {
    notImplemented("set host", "URL");
  }
  get hostname() { return this.#record.hostname ?? ""; }
  set hostname(value) {
    const r = this.#record;
    if (typeof r.path === "string") return;
    try {
      r.hostname = parseHost(String(value).split(/[:/?#]/)[0], isSpecial(r.protocol));
    } catch {}
  }
  get port() { return this.#record.port; }
  set port(value) {
    const r = this.#record;
    if (r.hostname === null || r.hostname === "" || r.protocol === "file:") return;
    const digits = /^[0-9]*/.exec(String(value))[0];
    if (String(value) === "") r.port = "";
    else if (digits !== "" && Number(digits) <= 65535) r.port = String(Number(digits)) === kSpecialPorts[r.protocol] ? "" : String(Number(digits));
  }
  get pathname() {
    const path = this.#record.path;
    return typeof path === "string" ? path : path.length > 0 ? "/" + path.join("/") : "";
  }
  set pathname(value) {
    const r = this.#record;
    if (typeof r.path === "string") return;
    const special = isSpecial(r.protocol);
    const path = String(value).replace(special ? /\\/g : /$^/, "/");
    r.path = normalizePath(path.replace(/^\//, "").split("/"), special);
  }
  get search() {
    const query = this.#record.query;
    return query === null || query === "" ? "" : "?" + query;
  }
  set search(value) {
    const s = String(value).replace(/^\?/, "");
    this.#record.query = s === "" ? null : percentEncode(s, isSpecial(this.#record.protocol) ? kSpecialQuerySet : kQuerySet);
    attachSearchParams(this.#searchParams, null);
    this.#searchParams = new URLSearchParams(s);
    attachSearchParams(this.#searchParams, this);
  }
  get searchParams() { return this.#searchParams; }
  get hash() {
    const fragment = this.#record.fragment;
    return fragment === null || fragment === "" ? "" : "#" + fragment;
  }
  set hash(value) {
    const s = String(value).replace(/^#/, "");
    this.#record.fragment = s === "" ? null : percentEncode(s, kFragmentSet);
  }
  toString() { return this.href; }
  toJSON() { return this.href; }
  get [Symbol.toStringTag]() { return "URL"; }
  static {
    urlRecord = (url) => url.#record;
  }
}

class URLSearchParams {
  #list = [];
  #url = null;
  constructor(init = "") {
    if (typeof init === "object" && init !== null) {
      if (init instanceof URLSearchParams) {
        this.#list = init.#list.map(([k, v]) => [k, v]);
      } else if (typeof init[Symbol.iterator] === "function") {
        for (const pair of init) {
          const entry = [...pair];
          if (entry.length !== 2) {
            throw new TypeError("Failed to construct 'URLSearchParams': Failed to construct 'URLSearchParams': " +
              "Sequence initializer must only contain pair elements");
          }
          this.#list.push([String(entry[0]), String(entry[1])]);
        }
      } else {
        for (const key of Object.keys(init)) this.#list.push([key, String(init[key])]);
      }
      return;
    }
    for (const piece of String(init).replace(/^\?/, "").split("&")) {
      if (piece === "") continue;
      const eq = piece.indexOf("=");
      this.#list.push(eq >= 0 ? [formDecode(piece.slice(0, eq)), formDecode(piece.slice(eq + 1))] : [formDecode(piece), ""]);
    }
  }
  #update() {
    if (this.#url === null) return;
    const s = this.toString();
    urlRecord(this.#url).query = s === "" ? null : s;
  }
  // As Convex's polyfill (udf-runtime 00_url.ts) has them: no size; delete and has take a name only;
  // set removes every pair of the name and appends one; sort compares names with localeCompare.
  append(name, value) {
    this.#list.push([String(name), String(value)]);
    this.#update();
  }
  delete(name) {
    this.#list = this.#list.filter(([k]) => k !== String(name));
    this.#update();
  }
  get(name) {
    const entry = this.#list.find(([k]) => k === String(name));
    return entry === undefined ? null : entry[1];
  }
  getAll(name) {
    return this.#list.filter(([k]) => k === String(name)).map(([, v]) => v);
  }
  has(name) {
    return this.#list.some(([k]) => k === String(name));
  }
  set(name, value) {
    this.delete(name);
    this.append(name, value);
  }
  sort() {
    this.#list.sort((a, b) => a[0].localeCompare(b[0]));
    this.#update();
  }
  forEach(callback, thisArg) {
    for (const [k, v] of this.#list) callback.call(thisArg, v, k, this);
  }
  *keys() { for (const [k] of this.#list) yield k; }
  *values() { for (const [, v] of this.#list) yield v; }
  *entries() { for (const [k, v] of this.#list) yield [k, v]; }
  [Symbol.iterator]() { return this.entries(); }
  toString() {
    return this.#list.map(([k, v]) => `${formEncode(k)}=${formEncode(v)}`).join("&");
  }
  get [Symbol.toStringTag]() { return "URLSearchParams"; }
  static {
    attachSearchParams = (params, url) => {
      params.#url = url;
    };
  }
}
return { URL, URLSearchParams };
});
defineLazy("URL", () => webUrl().URL);
defineLazy("URLSearchParams", () => webUrl().URLSearchParams);
