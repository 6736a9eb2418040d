/**
 * Splits an OpenFaaS-style `fprocess` command line into argv without a shell: whitespace
 * separates words; single or double quotes group; backslash escapes inside double quotes.
 */
export function splitCommandLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += c;
      continue;
    }
    if (c === '"' || c === "'") { quote = c; inWord = true; continue; }
    if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) { out.push(cur); cur = ''; inWord = false; }
      continue;
    }
    cur += c;
    inWord = true;
  }
  if (quote) throw new Error(`unterminated ${quote} quote in command "${line}"`);
  if (inWord) out.push(cur);
  return out;
}
