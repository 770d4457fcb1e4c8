// Every relative link in the repository's Markdown (README.md, PROTOCOL.md, BENCHMARKS.md, docs/,
// the packages' READMEs, bench/) points at a file that exists, and every #anchor at a heading of
// its target (GitHub's heading ids). External links (http:, https:, mailto:) are not fetched.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { REPO_ROOT } from '@aqueduct/testkit';

/** The Markdown files checked: top level, docs/ (recursively), packages/*, bench/ (recursively). */
export function markdownFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, deep: boolean) => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
      const p = join(dir, name);
      if (statSync(p).isDirectory()) { if (deep) walk(p, true); } else if (name.endsWith('.md')) out.push(p);
    }
  };
  walk(root, false);
  walk(join(root, 'docs'), true);
  walk(join(root, 'bench'), true);
  for (const pkg of readdirSync(join(root, 'packages'))) walk(join(root, 'packages', pkg), false);
  return out.sort();
}

/** Text outside fenced code blocks and inline code spans (links there are examples, not links). */
function prose(md: string): string {
  return md
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '')
    .replace(/`[^`\n]*`/g, '');
}

/** GitHub's id of a heading: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2, … */
export function headingIds(md: string): Set<string> {
  const ids = new Set<string>();
  const seen = new Map<string, number>();
  const noFences = md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const m of noFences.matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const text = m[1]
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links: their text
      .replace(/<[^>]+>/g, '');                  // inline HTML
    const base = text.toLowerCase().replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    ids.add(n === 0 ? base : `${base}-${n}`);
  }
  return ids;
}

/** Link targets of a Markdown text: inline links/images `[..](target)` and reference definitions `[x]: target`. */
export function linkTargets(md: string): string[] {
  const text = prose(md);
  const out: string[] = [];
  for (const m of text.matchAll(/!?\[(?:[^\]\n]|\n(?!\n))*?\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push(m[1]);
  for (const m of text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)) out.push(m[1]);
  for (const m of text.matchAll(/<(?:a|img)\s[^>]*(?:href|src)="([^"]+)"/g)) out.push(m[1]);
  return out;
}

/** The broken links of one file, as `file: target (why)`. */
export function brokenLinks(file: string, root: string): string[] {
  const broken: string[] = [];
  const md = readFileSync(file, 'utf8');
  for (const target of linkTargets(md)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:, …
    const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
    const path = decodeURIComponent(pathPart);
    const resolved = path === '' ? file : join(dirname(file), path);
    const where = `${relative(root, file)}: ${target}`;
    if (!resolved.startsWith(root)) { broken.push(`${where} (outside the repository)`); continue; }
    if (!existsSync(resolved)) { broken.push(`${where} (no such file)`); continue; }
    if (anchor !== undefined && anchor !== '' && resolved.endsWith('.md')) {
      if (!headingIds(readFileSync(resolved, 'utf8')).has(decodeURIComponent(anchor).toLowerCase())) broken.push(`${where} (no heading #${anchor})`);
    }
  }
  return broken;
}

describe('Markdown links resolve (Done-means 5)', () => {
  const files = markdownFiles(REPO_ROOT);

  test('the files checked include README.md and PROTOCOL.md', () => {
    const names = files.map((f) => relative(REPO_ROOT, f));
    assert.ok(names.includes('README.md') && names.includes('PROTOCOL.md'), names.join(', '));
  });

  test('every relative link and #anchor in the repository Markdown resolves', () => {
    const broken = files.flatMap((f) => brokenLinks(f, REPO_ROOT));
    assert.deepEqual(broken, [], `broken links:\n${broken.join('\n')}`);
  });

  test('the checker finds what is broken (missing file, missing anchor, outside the repo) and ignores code', () => {
    const ids = headingIds('# Room bus\n## Close codes\n## Close codes\n### React hooks: `@aqueduct/react`\n```\n# not a heading\n```\n');
    assert.deepEqual([...ids], ['room-bus', 'close-codes', 'close-codes-1', 'react-hooks-aqueductreact']);
    assert.deepEqual(
      linkTargets('[a](x.md) ![i](img/p.png "t") `[no](code.md)`\n```\n[no](fence.md)\n```\n[ref]: ./y.md#z\n<a href="h.md">h</a>'),
      ['x.md', 'img/p.png', './y.md#z', 'h.md'],
    );
  });
});
