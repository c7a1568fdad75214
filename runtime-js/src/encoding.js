// Prelude fragment: TextEncoder, TextDecoder (UTF-8), atob, btoa, and byte helpers other fragments use.

// A string's UTF-8 bytes; lone surrogates become U+FFFD, as TextEncoder specifies.
function utf8Encode(input) {
  const s = String(input);
  const bytes = new Uint8Array(s.length * 3);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      } else {
        c = 0xfffd;
      }
    }
    if (c < 0x80) {
      bytes[n++] = c;
    } else if (c < 0x800) {
      bytes[n++] = 0xc0 | (c >> 6);
      bytes[n++] = 0x80 | (c & 63);
    } else if (c < 0x10000) {
      bytes[n++] = 0xe0 | (c >> 12);
      bytes[n++] = 0x80 | ((c >> 6) & 63);
      bytes[n++] = 0x80 | (c & 63);
    } else {
      bytes[n++] = 0xf0 | (c >> 18);
      bytes[n++] = 0x80 | ((c >> 12) & 63);
      bytes[n++] = 0x80 | ((c >> 6) & 63);
      bytes[n++] = 0x80 | (c & 63);
    }
  }
  return bytes.slice(0, n);
}

// Decodes UTF-8. Invalid sequences become U+FFFD (one per maximal bad subpart), or throw when fatal.
function utf8Decode(bytes, fatal) {
  const parts = [];
  let codes = [];
  const bad = () => {
    if (fatal) throw new TypeError("The encoded data was not valid for encoding utf-8");
    codes.push(0xfffd);
  };
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    let need = 0, c = 0, lower = 0x80, upper = 0xbf;
    if (b < 0x80) {
      codes.push(b);
      i++;
    } else {
      if (b >= 0xc2 && b <= 0xdf) { need = 1; c = b & 0x1f; }
      else if (b >= 0xe0 && b <= 0xef) {
        need = 2; c = b & 0xf;
        if (b === 0xe0) lower = 0xa0;
        if (b === 0xed) upper = 0x9f;
      } else if (b >= 0xf0 && b <= 0xf4) {
        need = 3; c = b & 0x7;
        if (b === 0xf0) lower = 0x90;
        if (b === 0xf4) upper = 0x8f;
      } else {
        bad();
        i++;
        continue;
      }
      let j = i + 1;
      for (; j <= i + need; j++) {
        const cont = bytes[j];
        if (j >= bytes.length || cont < lower || cont > upper) break;
        c = (c << 6) | (cont & 0x3f);
        lower = 0x80;
        upper = 0xbf;
      }
      if (j <= i + need) {
        bad();
        i = j;
        continue;
      }
      if (c >= 0x10000) {
        c -= 0x10000;
        codes.push(0xd800 + (c >> 10), 0xdc00 + (c & 0x3ff));
      } else {
        codes.push(c);
      }
      i = j;
    }
    if (codes.length >= 8192) {
      parts.push(String.fromCharCode.apply(null, codes));
      codes = [];
    }
  }
  parts.push(String.fromCharCode.apply(null, codes));
  return parts.join("");
}

// A BufferSource (ArrayBuffer or a view) as a Uint8Array over the same memory.
function bytesOf(source, what = "argument") {
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  throw new TypeError(`The ${what} must be an ArrayBuffer or an ArrayBufferView`);
}

const webEncoding = once(() => {
class TextEncoder {
  get encoding() { return "utf-8"; }
  get [Symbol.toStringTag]() { return "TextEncoder"; }
  encode(input = "") {
    return utf8Encode(input);
  }
  encodeInto(source, destination) {
    if (!(destination instanceof Uint8Array)) throw new TypeError("encodeInto needs a Uint8Array");
    const s = String(source);
    let read = 0, written = 0;
    for (const ch of s) {  // whole code points, so a character is never split
      const bytes = utf8Encode(ch);
      if (written + bytes.length > destination.length) break;
      destination.set(bytes, written);
      written += bytes.length;
      read += ch.length;
    }
    return { read, written };
  }
}

// WHATWG encoding labels of the encodings decoded here (Convex's encoding_rs knows more; their other
// labels are refused as not implemented).
const kEncodingLabels = {
  "utf-8": ["unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "utf-8", "utf8", "x-unicode20utf8"],
  "windows-1252": ["ansi_x3.4-1968", "ascii", "cp1252", "cp819", "csisolatin1", "ibm819", "iso-8859-1", "iso-ir-100",
    "iso8859-1", "iso88591", "iso_8859-1", "iso_8859-1:1987", "l1", "latin1", "us-ascii", "windows-1252", "x-cp1252"],
  "utf-16le": ["csunicode", "iso-10646-ucs-2", "ucs-2", "unicode", "unicodefeff", "utf-16", "utf-16le"],
  "utf-16be": ["unicodefffe", "utf-16be"],
};
const kOtherEncodingLabels = /^(big5|euc-jp|euc-kr|gb18030|gbk|ibm866|iso-2022-jp|iso-8859-\d+|koi8-[ru]|macintosh|shift_jis|windows-\d+|x-mac-cyrillic|x-user-defined|cp\d+|csshiftjis|sjis|ms_kanji|x-sjis|x-gbk|chinese|csgb2312|gb2312|gb_2312(-80)?|iso-ir-58|x-euc-jp|cseucpkdfmtjapanese|ks_c_5601-(1987|1989)|korean|csksc56011987|cseuckr|windows-949|csiso2022jp|koi8|koi|cskoi8r|koi8_r|dos-874|tis-620|iso-ir-\d+|latin\d|l\d|csisolatin\d|csbig5|big5-hkscs|cn-big5|x-x-big5)$/;
// windows-1252's bytes 0x80-0x9f (the rest are their own code points).
const kWindows1252High = [0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039,
  0x152, 0x8d, 0x17d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161,
  0x203a, 0x153, 0x9d, 0x17e, 0x178];
const kInvalidData = Symbol("invalid data");

function encodingOf(label) {
  const name = String(label).replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, "").toLowerCase();
  for (const [encoding, labels] of Object.entries(kEncodingLabels)) if (labels.includes(name)) return encoding;
  if (kOtherEncodingLabels.test(name)) {
    notImplemented("TextDecoder", name);
  }
  // Convex's words, in a DOMException named RangeError (not a RangeError).
  throw domException(`The encoding label provided ('${String(label)}') is invalid.`, "RangeError");
}

function singleByteDecode(bytes) {
  let out = "";
  for (let i = 0; i < bytes.length; i += 0x2000) {
    out += String.fromCharCode(...Array.from(bytes.subarray(i, i + 0x2000),
      (b) => (b >= 0x80 && b < 0xa0 ? kWindows1252High[b - 0x80] : b)));
  }
  return out;
}

// UTF-16: code units in pairs of bytes; a lone surrogate or an odd last byte is invalid.
function utf16Decode(bytes, littleEndian, fatal) {
  const units = [];
  let invalid = false;
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    units.push(littleEndian ? bytes[i] | (bytes[i + 1] << 8) : (bytes[i] << 8) | bytes[i + 1]);
  }
  if (bytes.length % 2 === 1) invalid = true;
  let out = "";
  for (let i = 0; i < units.length; i++) {
    const u = units[i];
    if (u >= 0xd800 && u <= 0xdbff && i + 1 < units.length && units[i + 1] >= 0xdc00 && units[i + 1] <= 0xdfff) {
      out += String.fromCharCode(u, units[++i]);
    } else if (u >= 0xd800 && u <= 0xdfff) {
      invalid = true;
      out += "\ufffd";
    } else {
      out += String.fromCharCode(u);
    }
  }
  if (invalid && fatal) return kInvalidData;
  return bytes.length % 2 === 1 ? out + "\ufffd" : out;
}

class TextDecoder {
  get [Symbol.toStringTag]() { return "TextDecoder"; }
  #encoding;
  #fatal;
  #ignoreBOM;
  #pending = new Uint8Array(0);  // an incomplete sequence kept between streaming calls
  constructor(label = "utf-8", options = {}) {
    this.#encoding = encodingOf(label);
    this.#fatal = Boolean(options?.fatal);
    this.#ignoreBOM = Boolean(options?.ignoreBOM);
  }
  get encoding() { return this.#encoding; }
  get fatal() { return this.#fatal; }
  get ignoreBOM() { return this.#ignoreBOM; }
  decode(input, options = {}) {
    let bytes = input === undefined ? new Uint8Array(0) : bytesOf(input, "input");
    if (this.#pending.length > 0) {
      const joined = new Uint8Array(this.#pending.length + bytes.length);
      joined.set(this.#pending);
      joined.set(bytes, this.#pending.length);
      bytes = joined;
      this.#pending = new Uint8Array(0);
    }
    if (options?.stream) {
      // Keep a trailing incomplete sequence for the next call.
      let start = bytes.length;
      if (this.#encoding === "utf-8") {
        for (let back = 1; back <= 3 && bytes.length - back >= 0; back++) {
          const b = bytes[bytes.length - back];
          if ((b & 0xc0) === 0x80) continue;
          const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
          if (need > back) start = bytes.length - back;
          break;
        }
      } else if (this.#encoding.startsWith("utf-16")) {
        start = bytes.length - (bytes.length % 2);
        const last = start >= 2 ? (this.#encoding === "utf-16le" ? bytes[start - 1] : bytes[start - 2]) : 0;
        if (last >= 0xd8 && last <= 0xdb) start -= 2;  // a high surrogate waits for its pair
      }
      this.#pending = bytes.slice(start);
      bytes = bytes.subarray(0, start);
    }
    let text;
    if (this.#encoding === "utf-8") {
      try {
        text = utf8Decode(bytes, this.#fatal);
      } catch {
        text = kInvalidData;
      }
    } else if (this.#encoding === "windows-1252") {
      text = singleByteDecode(bytes);
    } else {
      text = utf16Decode(bytes, this.#encoding === "utf-16le", this.#fatal);
    }
    // Convex's decode returns only the text of its op's answer, which has none for invalid data in
    // fatal mode: the call returns undefined rather than throwing.
    if (text === kInvalidData) return undefined;
    if (!this.#ignoreBOM && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return text;
  }
}
return { TextEncoder, TextDecoder };
});
defineLazy("TextEncoder", () => webEncoding().TextEncoder);
defineLazy("TextDecoder", () => webEncoding().TextDecoder);

const kBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function base64Encode(bytes) {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += kBase64[n >> 18] + kBase64[(n >> 12) & 63];
    out += i + 1 < bytes.length ? kBase64[(n >> 6) & 63] : "=";
    out += i + 2 < bytes.length ? kBase64[n & 63] : "=";
  }
  return out;
}

// Forgiving base64 decoding (HTML spec): ASCII whitespace ignored, padding optional.
function base64Decode(text) {
  let s = String(text).replace(/[\t\n\f\r ]/g, "");
  if (s.length % 4 === 0) s = s.replace(/={1,2}$/, "");
  if (s.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(s)) {
    throw domException("The string to be decoded is not correctly encoded.", "InvalidCharacterError");
  }
  const bytes = new Uint8Array(Math.floor((s.length * 3) / 4));
  let n = 0, buffer = 0, bits = 0;
  for (let i = 0; i < s.length; i++) {
    buffer = (buffer << 6) | kBase64.indexOf(s[i]);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[n++] = (buffer >> bits) & 0xff;
    }
  }
  return bytes.subarray(0, n);
}

define(globalThis, "btoa", function btoa(data) {
  if (arguments.length === 0) throw new TypeError("btoa requires 1 argument");
  const s = String(data);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) {
      throw domException("Failed to execute 'btoa': The string to be encoded contains characters outside of the " +
        "Latin1 range.", "InvalidCharacterError");
    }
    bytes[i] = c;
  }
  return base64Encode(bytes);
});
define(globalThis, "atob", function atob(data) {
  if (arguments.length === 0) throw new TypeError("atob requires 1 argument");
  // Forgiving, and in Convex's words: white space is skipped, padding is optional.
  const s = String(data).replace(/[\t\n\f\r ]/g, "").replace(/={1,2}$/, "");
  for (let i = 0; i < s.length; i++) {
    if (kBase64.indexOf(s[i]) < 0) {
      throw domException(`Failed to execute 'atob': Invalid byte ${s.charCodeAt(i)}, offset ${i}.`,
        "InvalidCharacterError");
    }
  }
  if (s.length % 4 === 1) {
    throw domException("Failed to execute 'atob': Encoded text cannot have a 6-bit remainder.", "InvalidCharacterError");
  }
  const bytes = base64Decode(s);
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) out += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
  return out;
});
