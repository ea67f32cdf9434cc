// Escaping for HTML and for XML exactly as Python's ElementTree writes it (the
// JUnit module reproduces pytest's --junitxml byte for byte, times aside).

export function escapeHtml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/** ElementTree's _escape_cdata. */
export function xmlText(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** ElementTree's _escape_attrib (Python 3.11). */
export function xmlAttr(text: string): string {
  return xmlText(text)
    .replaceAll('"', "&quot;")
    .replaceAll("\r", "&#13;")
    .replaceAll("\n", "&#10;")
    .replaceAll("\t", "&#09;");
}

// pytest's bin_xml_escape pattern, as Python actually parses it: its
// "\u10000-\u10FFFF" reads as U+1000, "0-\u10FF", "F", "F", so code points
// above U+FFFF are escaped too, and DEL is kept.
const ILLEGAL_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD]/gu;

/** pytest's bin_xml_escape: invalid XML characters become visible "#xNN" text. */
export function binXmlEscape(text: string): string {
  return text.replace(ILLEGAL_XML, (char) => {
    const code = char.codePointAt(0) ?? 0;
    const hex = code.toString(16).toUpperCase();
    return `#x${hex.padStart(code <= 0xff ? 2 : 4, "0")}`;
  });
}

/** Python's str.center(width, fill). */
export function pyCenter(text: string, width: number, fill: string): string {
  const margin = width - text.length;
  if (margin <= 0) return text;
  const left = Math.floor(margin / 2) + (margin & width & 1);
  return fill.repeat(left) + text + fill.repeat(margin - left);
}

/** Python's "%.Nf" for the finite, non-negative values reports use. */
export function fixed(value: number, digits: number): string {
  return (Number.isFinite(value) ? value : 0).toFixed(digits);
}
