// Prelude fragment: console formatting, close to Node's util.format / util.inspect. Output is bounded:
// once `limit` characters are produced the rest is skipped, so logging a huge object costs little.

class OutputFull extends Error {}

function formatLogArgs(args, limit) {
  const out = { text: "", limit };
  try {
    let start = 0;
    if (typeof args[0] === "string" && args.length > 1 && args[0].includes("%")) {
      start = formatSpecifiers(args, out);
    } else if (args.length > 0) {
      append(out, typeof args[0] === "string" ? args[0] : inspect(args[0], out));
      start = 1;
    }
    for (let i = start; i < args.length; i++) {
      append(out, " ");
      append(out, typeof args[i] === "string" ? args[i] : inspect(args[i], out));
    }
  } catch (e) {
    if (!(e instanceof OutputFull)) throw e;
  }
  return out.text;
}

function append(out, s) {
  out.text += s;
  if (out.text.length > out.limit) {
    out.text = out.text.slice(0, out.limit);
    throw new OutputFull();
  }
}

// Consumes args[0] with its %s %d %i %f %j %o %O %c %% specifiers; returns the next unused index.
function formatSpecifiers(args, out) {
  const format = args[0];
  let next = 1;
  let last = 0;
  for (let i = 0; i < format.length - 1; i++) {
    if (format[i] !== "%") continue;
    const c = format[i + 1];
    let piece;
    if (c === "%") {
      piece = "%";
    } else if (next < args.length && "sdifjoOc".includes(c)) {
      const arg = args[next++];
      if (c === "s") piece = typeof arg === "string" ? arg : typeof arg === "bigint" ? `${arg}n` : inspect(arg, out, 1);
      else if (c === "d" || c === "i") {
        piece = typeof arg === "bigint" ? `${arg}n` : typeof arg === "symbol" ? "NaN" : String(c === "i" ? Math.trunc(Number(arg)) : Number(arg));
      } else if (c === "f") piece = typeof arg === "symbol" ? "NaN" : String(parseFloat(arg));
      else if (c === "j") {
        try {
          piece = JSON.stringify(arg);
        } catch {
          piece = "[Circular]";
        }
      } else if (c === "c") piece = "";
      else piece = inspect(arg, out, c === "o" ? 4 : 2);
    } else {
      continue;
    }
    append(out, format.slice(last, i));
    append(out, piece);
    last = i + 2;
    i++;
  }
  append(out, format.slice(last));
  return next;
}

const kIdentifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function quote(s) {
  const q = !s.includes("'") ? "'" : !s.includes('"') ? '"' : !s.includes("`") ? "`" : "'";
  return q + s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(new RegExp(q, "g"), "\\" + q) + q;
}

function inspect(value, out, depth = 2) {
  const seen = [];
  const budget = { chars: 0, limit: out.limit };
  return inspectValue(value, depth, seen, budget, 0);
}

function inspectValue(value, depth, seen, budget, indent) {
  switch (typeof value) {
    case "string":
      return seen.length === 0 ? value : quote(value);
    case "number":
      return Object.is(value, -0) ? "-0" : String(value);
    case "bigint":
      return `${value}n`;
    case "boolean":
    case "undefined":
      return String(value);
    case "symbol":
      return value.toString();
    case "function": {
      const source = Function.prototype.toString.call(value);
      const name = value.name ? `: ${value.name}` : " (anonymous)";
      return source.startsWith("class") ? `[class ${value.name || "(anonymous)"}]` : `[Function${name}]`;
    }
  }
  if (value === null) return "null";
  if (seen.includes(value)) return "[Circular *1]";
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString();
  if (value instanceof RegExp) return String(value);
  if (value instanceof Error) return String(value.stack || `${value.name}: ${value.message}`);
  if (value instanceof Promise) return "Promise { <unknown> }";
  if (value instanceof WeakMap || value instanceof WeakSet) return `${value.constructor.name} { <items unknown> }`;
  const nested = (v) => {
    budget.chars += 8;
    if (budget.chars > budget.limit) throw new OutputFull();
    return inspectValue(v, depth - 1, seen, budget, indent + 2);
  };
  const wrap = (prefix, items, open, close) => {
    if (items.length === 0) return `${prefix}${open}${close}`;
    const oneLine = `${prefix}${open} ${items.join(", ")} ${close}`;
    if (oneLine.length <= 72 && !oneLine.includes("\n")) return oneLine;
    const pad = " ".repeat(indent + 2);
    return `${prefix}${open}\n${pad}${items.join(`,\n${pad}`)}\n${" ".repeat(indent)}${close}`;
  };
  const name = constructorName(value);
  if (depth < 0) return Array.isArray(value) ? "[Array]" : `[${name || "Object"}]`;
  seen.push(value);
  try {
    if (Array.isArray(value)) {
      const items = [];
      for (let i = 0; i < value.length && i < 100; i++) items.push(nested(value[i]));
      if (value.length > 100) items.push(`... ${value.length - 100} more items`);
      return wrap(name === "Array" ? "" : `${name}(${value.length}) `, items, "[", "]");
    }
    if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
      const items = Array.from(value.subarray(0, 100), (x) => nested(x));
      if (value.length > 100) items.push(`... ${value.length - 100} more items`);
      return wrap(`${name}(${value.length}) `, items, "[", "]");
    }
    if (value instanceof ArrayBuffer) return `ArrayBuffer { byteLength: ${value.byteLength} }`;
    if (value instanceof Map) {
      const items = [];
      for (const [k, v] of value) items.push(`${nested(k)} => ${nested(v)}`);
      return wrap(`Map(${value.size}) `, items, "{", "}");
    }
    if (value instanceof Set) {
      const items = [];
      for (const v of value) items.push(nested(v));
      return wrap(`Set(${value.size}) `, items, "{", "}");
    }
    const items = [];
    for (const key of Reflect.ownKeys(value)) {
      const descriptor = Object.getOwnPropertyDescriptor(value, key);
      if (descriptor === undefined || !descriptor.enumerable) continue;
      const label = typeof key === "symbol" ? `[${key.toString()}]` : kIdentifier.test(key) ? key : quote(key);
      const shown = "value" in descriptor ? nested(descriptor.value) : descriptor.set ? "[Getter/Setter]" : "[Getter]";
      items.push(`${label}: ${shown}`);
    }
    const prefix = name === "Object" ? "" : name === null ? "[Object: null prototype] " : `${name} `;
    return wrap(prefix, items, "{", "}");
  } finally {
    seen.pop();
  }
}

function constructorName(value) {
  const proto = Object.getPrototypeOf(value);
  if (proto === null) return null;
  const ctor = Object.getOwnPropertyDescriptor(proto, "constructor");
  return ctor && typeof ctor.value === "function" && ctor.value.name ? ctor.value.name : "Object";
}
