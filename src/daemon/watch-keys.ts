// The bytes a terminal in raw mode sends, as `kiln watch`'s keys (pure).
// In raw mode the terminal driver no longer turns Ctrl-C into SIGINT (ISIG
// is off, termios(3)), so it arrives here as the byte 0x03.
import type { Key } from "./watch-machine.js";

export function decodeKeys(data: string): Key[] {
  // An escape sequence (an arrow key, F1: ESC [ ... or ESC O ...) is one
  // key that means nothing here; a lone ESC cancels a prompt.
  if (data.startsWith("\x1b")) return data.length === 1 ? [{ name: "escape" }] : [];
  const keys: Key[] = [];
  for (const char of data) {
    if (char === "\r" || char === "\n") keys.push({ name: "enter" });
    else if (char === "\x03") keys.push({ name: "ctrl-c" });
    else if (char === "\x7f" || char === "\b") keys.push({ name: "backspace" });
    else if (char >= " ") keys.push({ name: "char", char });
  }
  return keys;
}
