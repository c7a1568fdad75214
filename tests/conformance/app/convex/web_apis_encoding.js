// Conformance area "web_apis": TextEncoder/TextDecoder, atob/btoa, structuredClone and
// DOMException. Queries take `{which}` and return small observations (see web_apis_util.js).
import { query } from "./_generated/server";
import { bytes, catchSync, errInfo, scenarios, tag } from "./web_apis_util";

const FANCY_TEXT = "\u{1d4fd}\u{1d4ee}\u{1d501}\u{1d4fd}"; // 4 astral characters, 16 UTF-8 bytes
const FANCY_BYTES = [
  0xf0, 0x9d, 0x93, 0xbd, 0xf0, 0x9d, 0x93, 0xae, 0xf0, 0x9d, 0x94, 0x81, 0xf0, 0x9d, 0x93, 0xbd,
];

function codePoints(s) {
  return Array.from(s, (c) => c.codePointAt(0));
}

// ---------------------------------------------------------------------------------------------
// TextEncoder / TextDecoder
// ---------------------------------------------------------------------------------------------
const textScenarios = {
  encode() {
    const e = new TextEncoder();
    return {
      encoding: e.encoding,
      fancy: bytes(e.encode(FANCY_TEXT)),
      empty: bytes(e.encode()),
      coerced: bytes(e.encode({ toString: () => "hi" })),
      isUint8Array: e.encode("x") instanceof Uint8Array,
    };
  },
  encodeInto() {
    const e = new TextEncoder();
    const a = new Uint8Array(5);
    const ra = e.encodeInto("text", a);
    const b = new Uint8Array(5);
    const rb = e.encodeInto(FANCY_TEXT, b);
    const c = new Uint8Array(17);
    const rc = e.encodeInto(FANCY_TEXT, c);
    return {
      ascii: [ra.read, ra.written, bytes(a)],
      partial: [rb.read, rb.written, bytes(b)],
      full: [rc.read, rc.written, bytes(c)],
    };
  },
  decodeUtf8() {
    const d = new TextDecoder();
    return {
      encoding: d.encoding,
      fatal: d.fatal,
      ignoreBOM: d.ignoreBOM,
      first: d.decode(new Uint8Array(FANCY_BYTES)) === FANCY_TEXT,
      reused: d.decode(new Uint8Array(FANCY_BYTES)) === FANCY_TEXT,
      noInput: d.decode(),
      subarray: d.decode(new Uint8Array([97, 98, 99, 100]).subarray(1, 3)),
      arrayBuffer: d.decode(new Uint8Array([104, 105]).buffer),
      dataView: d.decode(new DataView(new Uint8Array([0, 111, 107]).buffer, 1)),
      int32: d.decode(new Int32Array([0x44434241])),
    };
  },
  labels() {
    return ["utf-8", "UTF8", " unicode-1-1-utf-8 ", "ascii", "latin1", "utf-16le", "utf-16"].map(
      (label) => new TextDecoder(label).encoding,
    );
  },
  invalidLabel() {
    try {
      new TextDecoder("Foo");
      return "no error";
    } catch (e) {
      return {
        ...errInfo(e),
        isRangeError: e instanceof RangeError,
        isError: e instanceof Error,
      };
    }
  },
  replacementLabel() {
    return catchSync(() => new TextDecoder("iso-2022-kr"));
  },
  bom() {
    const withBom = new Uint8Array([0xef, 0xbb, 0xbf, 0x61]);
    return {
      stripped: codePoints(new TextDecoder().decode(withBom)),
      kept: codePoints(new TextDecoder("utf-8", { ignoreBOM: true }).decode(withBom)),
    };
  },
  replacement() {
    return codePoints(new TextDecoder().decode(new Uint8Array([0x61, 0xff, 0x62, 0xc3])));
  },
  fatal() {
    const d = new TextDecoder("utf-8", { fatal: true });
    let result;
    try {
      result = d.decode(new Uint8Array([0x61, 0xff]));
    } catch (e) {
      return { threw: true, error: errInfo(e) };
    }
    return { threw: false, fatal: d.fatal, resultType: typeof result };
  },
  fatalValidInput() {
    return new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array([0x6f, 0x6b]));
  },
  streaming() {
    const d = new TextDecoder();
    const out = [];
    for (let i = 0; i < 2; i++) {
      out.push(d.decode(new Uint8Array([0xf0, 0x9f]), { stream: true }));
      out.push(d.decode(new Uint8Array([0xab]), { stream: true }));
      out.push(codePoints(d.decode(new Uint8Array([0xaa]))));
    }
    return out;
  },
  windows1252() {
    return codePoints(new TextDecoder("ascii").decode(new Uint8Array([0x89, 0x95, 0x9f, 0xbf])));
  },
  utf16le() {
    return new TextDecoder("utf-16le").decode(new Uint8Array([0x68, 0x00, 0x69, 0x00]));
  },
  tags() {
    return {
      encoder: tag(new TextEncoder()),
      decoder: tag(new TextDecoder()),
      encoderString: String(new TextEncoder()),
    };
  },
};

export const text = query(scenarios(textScenarios));

// ---------------------------------------------------------------------------------------------
// atob / btoa
// ---------------------------------------------------------------------------------------------
const base64Scenarios = {
  btoa() {
    return [btoa("hello world"), btoa(String.fromCharCode(151)), btoa(""), btoa(12)];
  },
  btoaNonLatin1() {
    return catchSync(() => btoa("\u4f60\u597d"));
  },
  atob() {
    return [
      atob("aGVsbG8gd29ybGQ="),
      atob(" aGVsbG\t8gd29ybGQ=\n"),
      atob("aGVsbG 8gd29ybGQ="),
      atob("Qx=="),
      atob("Qx="),
      atob("Qw"),
      atob("AAA+").charCodeAt(2),
      atob("AAA/").charCodeAt(2),
    ];
  },
  atobLatin1() {
    const s = atob("l/8=");
    return [s.length, s.charCodeAt(0), s.charCodeAt(1)];
  },
  atobInvalidCharacter() {
    return catchSync(() => atob("foobar!!"));
  },
  atobInvalidLength() {
    return catchSync(() => atob("abcde"));
  },
  atobTooMuchPadding() {
    return [
      catchSync(() => atob("aGVsbG8gd29ybGQ==")).kind,
      catchSync(() => atob("aGVsbG8gd29ybGQ===")).kind,
    ];
  },
};

export const base64 = query(scenarios(base64Scenarios));

// ---------------------------------------------------------------------------------------------
// structuredClone
// ---------------------------------------------------------------------------------------------
const cloneScenarios = {
  plain() {
    const value = { a: ["b", "c"], d: 1, e: null, f: true };
    const clone = structuredClone(value);
    return { clone, distinct: clone !== value && clone.a !== value.a };
  },
  builtins() {
    const date = structuredClone(new Date(100000));
    const map = structuredClone(new Map([[1, { x: 2 }]]));
    const set = structuredClone(new Set(["s"]));
    const regex = structuredClone(/a+/gi);
    const big = structuredClone(12345678901234567890n);
    const buf = structuredClone(new Uint8Array([1, 2, 3]).buffer);
    const typed = structuredClone(new Int32Array([1, -2, 4]));
    const err = structuredClone(new RangeError("boom"));
    return {
      date: [date instanceof Date, date.getTime()],
      map: [map instanceof Map, map.get(1).x],
      set: [set instanceof Set, set.has("s")],
      regex: [regex instanceof RegExp, regex.source, regex.flags],
      bigint: big === 12345678901234567890n,
      arrayBuffer: [buf instanceof ArrayBuffer, bytes(buf)],
      typed: [typed instanceof Int32Array, Array.from(typed)],
      error: [err instanceof Error, err.name, err.message],
    };
  },
  cycles() {
    const obj = { a: 1 };
    obj.self = obj;
    const arr = [1];
    arr.push(arr, obj);
    const c = structuredClone(arr);
    return {
      arraySelf: c[1] === c,
      objectSelf: c[2].self === c[2],
      distinct: c !== arr && c[2] !== obj,
    };
  },
  functionValue() {
    return catchSync(() => structuredClone(() => {}));
  },
  symbolValue() {
    return catchSync(() => structuredClone(Symbol("s")));
  },
  functionProperty() {
    return catchSync(() => structuredClone({ f() {} }));
  },
  withTransfer() {
    const buffer = new ArrayBuffer(8);
    try {
      structuredClone(buffer, { transfer: [buffer] });
    } catch (e) {
      return "caught: " + e.message;
    }
    return "no error";
  },
};

export const clone = query(scenarios(cloneScenarios));

// ---------------------------------------------------------------------------------------------
// DOMException
// ---------------------------------------------------------------------------------------------
const domExceptionScenarios = {
  basic() {
    const e = new DOMException("m", "NotFoundError");
    return {
      name: e.name,
      message: e.message,
      code: e.code,
      isError: e instanceof Error,
      tag: tag(e),
      string: String(e),
      hasStack: typeof e.stack === "string",
    };
  },
  defaults() {
    const e = new DOMException();
    return { name: e.name, message: e.message, code: e.code };
  },
  codes() {
    return [
      "IndexSizeError",
      "InvalidCharacterError",
      "NotSupportedError",
      "InvalidStateError",
      "SyntaxError",
      "InvalidAccessError",
      "TypeMismatchError",
      "AbortError",
      "QuotaExceededError",
      "TimeoutError",
      "DataCloneError",
      "OperationError",
      "DataError",
      "RangeError",
    ].map((name) => new DOMException("", name).code);
  },
  constants() {
    const e = new DOMException("x");
    return {
      instanceAbortErr: e.ABORT_ERR,
      instanceDataCloneErr: e.DATA_CLONE_ERR,
      staticAbortErr: typeof DOMException.ABORT_ERR,
    };
  },
};

export const domException = query(scenarios(domExceptionScenarios));
