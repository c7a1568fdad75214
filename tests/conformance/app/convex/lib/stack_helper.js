// A helper in a folder of its own (not an entry point): its frames map to lib/stack_helper.js.
export function failDeep(what) {
  return failDeeper(what);
}

function failDeeper(what) {
  throw new Error(`failed deep: ${what}`);
}
