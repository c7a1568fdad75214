// Prelude fragment: FormData (entries of strings and Files, in order), and what Body.formData() reads
// (application/x-www-form-urlencoded bodies).

const webFormData = once(() => {
  const entryValue = (value, filename) => {
    const { Blob, File } = webBlob();
    if (!(value instanceof Blob)) return String(value);
    if (value instanceof File && filename === undefined) return value;
    const name = filename !== undefined ? String(filename) : value instanceof File ? value.name : "blob";
    return new File([value], name, { type: value.type });
  };
  class FormData {
    #entries = [];
    constructor(form) {
      if (form !== undefined) throw new TypeError("FormData can only be constructed empty here (no HTML forms)");
    }
    append(name, value, filename) {
      this.#entries.push([String(name), entryValue(value, filename)]);
    }
    delete(name) {
      const key = String(name);
      this.#entries = this.#entries.filter(([k]) => k !== key);
    }
    get(name) {
      const key = String(name);
      const found = this.#entries.find(([k]) => k === key);
      return found === undefined ? null : found[1];
    }
    getAll(name) {
      const key = String(name);
      return this.#entries.filter(([k]) => k === key).map(([, v]) => v);
    }
    has(name) {
      const key = String(name);
      return this.#entries.some(([k]) => k === key);
    }
    set(name, value, filename) {
      const key = String(name);
      // As Convex's set: a Blob becomes a File named by `filename` (else ""), without its type.
      const { Blob, File } = webBlob();
      const entry = [key, value instanceof Blob ? new File([value], filename !== undefined ? String(filename) : "")
        : String(value)];
      const first = this.#entries.findIndex(([k]) => k === key);
      if (first < 0) {
        this.#entries.push(entry);
        return;
      }
      this.#entries = this.#entries.filter(([k], i) => k !== key || i === first).map((e, i) => (i === first ? entry : e));
    }
    *entries() {
      for (const [k, v] of this.#entries) yield [k, v];
    }
    *keys() {
      for (const [k] of this.#entries) yield k;
    }
    *values() {
      for (const [, v] of this.#entries) yield v;
    }
    forEach(callback, thisArg) {
      for (const [k, v] of this.#entries) callback.call(thisArg, v, k, this);
    }
    [Symbol.iterator]() {
      return this.entries();
    }
    get [Symbol.toStringTag]() {
      return "FormData";
    }
  }
  return { FormData };
});
defineLazy("FormData", () => webFormData().FormData);
