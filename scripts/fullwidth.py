#!/usr/bin/env python3
"""Full-width punctuation in Chinese text (docs/console.md).

    python3 scripts/fullwidth.py FILE...

In templates (.html) it converts the text people read (outside template code and tags, plus placeholder,
title, data-confirm, aria-label and alt attributes); in Rust sources, string literals that contain Chinese,
outside `//` comments and `#[cfg(test)] mod` blocks. A half-width , ; : ? ! next to a Chinese character, and
parentheses next to or containing Chinese, become full-width. Prints the files it changed.
"""
import re, sys, pathlib
CJK = re.compile(r'[\u4e00-\u9fff\u3000-\u303f\uff01-\uff5e\u201c\u201d\u2018\u2019\u3001\u3002\u300a-\u300f\u2014\u2026]')
MAP = {',': '\uff0c', ';': '\uff1b', ':': '\uff1a', '(': '\uff08', ')': '\uff09', '?': '\uff1f', '!': '\uff01'}
def cjk(c): return bool(c) and bool(CJK.match(c))
def convert(t):
    s = list(t)
    # parentheses: pair them up
    stack = []
    pairs = []
    for i, c in enumerate(s):
        if c == '(':
            stack.append(i)
        elif c == ')' and stack:
            pairs.append((stack.pop(), i))
    for a, b in pairs:
        inner = t[a+1:b]
        if (a > 0 and cjk(t[a-1])) or any(cjk(ch) for ch in inner) and not re.search(r'[{}]', inner) or (b+1 < len(t) and cjk(t[b+1])):
            s[a] = '\uff08'; s[b] = '\uff09'
    for i, c in enumerate(s):
        if c in ',;:?!':
            prev = s[i-1] if i > 0 else ''
            nxt = s[i+1] if i+1 < len(s) else ''
            if cjk(prev) or (cjk(nxt) and not (c == ':' and prev == ':')):
                s[i] = MAP[c]
    return ''.join(s)

def template(text):
    token = re.compile(r'(\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}|<script.*?</script>|<style.*?</style>|<[^>]*>)', re.S)
    parts = token.split(text)
    toks = []
    body = []
    for k, p in enumerate(parts):
        if k % 2 == 1:
            if p.startswith('<') and not p.startswith('<script') and not p.startswith('<style'):
                p = re.sub(r'\b(placeholder|title|data-confirm|aria-label|alt|content)="([^"]*)"', lambda m: m.group(1) + '="' + convert(m.group(2)) + '"', p)
            toks.append(p)
            body.append('\ue000')
        else:
            body.append(p)
    conv = convert(''.join(body))
    it = iter(toks)
    return ''.join(next(it) if ch == '\ue000' else ch for ch in conv)

STR = re.compile(r'"(?:[^"\\\n]|\\.)*"')
def rust(text):
    lines = text.split('\n')
    out = []
    in_tests = False
    for k, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith('#[cfg(test)]') and k + 1 < len(lines) and lines[k+1].lstrip().startswith('mod '):
            in_tests = True
        if in_tests:
            out.append(line); continue
        if stripped.startswith('//'):
            out.append(line); continue
        # do not touch anything after a trailing comment
        out.append(STR.sub(lambda m: convert(m.group(0)) if CJK.search(m.group(0)) else m.group(0), line))
    return '\n'.join(out)

for f in sys.argv[1:]:
    p = pathlib.Path(f)
    t = p.read_text()
    n = template(t) if f.endswith('.html') else rust(t)
    if n != t:
        p.write_text(n)
        print('changed', f)
