// Text read from a damaged file, made safe to print in one terminal line.
// JSON.parse's message quotes the bytes it choked on (V8: `Unexpected token
// '…', "…"... is not valid JSON`), so a file of NULs or escape sequences
// would otherwise reach the terminal raw: NULs, a stray ESC that recolours
// or clears the screen, a newline that splits the warning.

/** `text` cut to `max` characters, with C0/C1 controls and DEL shown as \xNN. */
export function printable(text: string, max = 200): string {
  const clipped = text.length > max ? `${text.slice(0, max)}…` : text;
  let out = "";
  for (const char of clipped) {
    const code = char.codePointAt(0) as number;
    const control = code < 0x20 || (code >= 0x7f && code <= 0x9f);
    out += control ? `\\x${code.toString(16).padStart(2, "0")}` : char;
  }
  return out;
}
