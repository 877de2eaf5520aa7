// How a caller's value reads in an error message, for the checks of options and arguments.

/**
 * @internal A value as an error message shows it: strings and arrays as JSON (`"10"`,
 * `["chat"]`), objects by their keys (`{ interval }`), functions as "a function", the rest as
 * `String` does (`NaN`, `undefined`).
 */
export function _show(value: unknown): string {
  if (typeof value === "string" || Array.isArray(value)) return JSON.stringify(value);
  if (typeof value === "function") return "a function";
  if (typeof value === "object" && value !== null) return `{ ${Object.keys(value).join(", ")} }`.replace("{  }", "{}");
  return String(value);
}
