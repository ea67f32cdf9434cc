// Bearer tokens for `kiln serve`: one per line in --token-file (blank lines
// and # comments skipped), or whitespace-separated in KILN_SERVE_TOKENS.
// Compared in constant time: both sides are hashed to 32 bytes first, so
// crypto.timingSafeEqual (which needs equal lengths) leaks neither the
// token's bytes nor its length through timing.
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";

export class TokenError extends Error {
  override name = "TokenError";
}

export function parseTokens(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

export function loadTokens(file: string | undefined, env: NodeJS.ProcessEnv): string[] {
  const tokens: string[] = [];
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      throw new TokenError(`--token-file ${file}: ${(error as Error).message}`);
    }
    const fromFile = parseTokens(text);
    if (fromFile.length === 0)
      throw new TokenError(`--token-file ${file} holds no token (one per line)`);
    tokens.push(...fromFile);
  }
  const fromEnv = env.KILN_SERVE_TOKENS?.split(/\s+/).filter(Boolean) ?? [];
  tokens.push(...fromEnv);
  return tokens;
}

const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();

export class TokenCheck {
  private readonly digests: Buffer[];

  constructor(tokens: readonly string[]) {
    this.digests = tokens.map(digest);
  }

  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /** Whether an Authorization header carries one of the tokens. */
  allows(header: string | undefined): boolean {
    if (!this.enabled) return true;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
    const given = digest(match?.[1] ?? "");
    let ok = false;
    // Every token is compared, whichever matches: no early exit to time.
    for (const token of this.digests) ok = timingSafeEqual(token, given) || ok;
    return ok && match !== null;
  }
}
