#!/usr/bin/env python3
"""Derives the Chinese drawings (tall.zh.*, wide.zh.*) from the English ones.

    python3 zh.py && python3 check.py

Only the words of the arrows' labels change: `rcv X` becomes `收 X`, `snd X`
`发 X`, `timeout` `超时`; call names such as `close()` and the state names
stay. A Chinese character takes two cells, so each word is at most as wide
as the English one and a label shrinks: it stays by what it is said of (the
frame character next to it that belongs to its arrow; else its first
cell), and the cells it frees become spaces, or line where the label
sits in a line. Boxes, lines and arrowheads keep their cells. The mask is
changed cell for cell with the drawing: a label's ink keeps its arrow's
letter (both cells of a Chinese character carry it), freed cells are blank,
or the line's letter where they became line.
"""
import os
import re
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))

WORDS = [('rcv', '收'), ('snd', '发'), ('timeout', '超时')]
LINE = set('─━')
FRAME = set('─━│┌┐└┘╭╮╰╯├┤┬┴┼▶◀▲▼')


def cells(text):
    """Text as cells: a wide character, then '' for its second cell."""
    out = []
    for ch in text:
        out.append(ch)
        if unicodedata.east_asian_width(ch) in ('W', 'F'):
            out.append('')
    return out


def labels(line):
    """(start, end) of each label: words joined by single spaces, between
    frame characters or runs of two spaces."""
    spans, i, n = [], 0, len(line)
    while i < n:
        if line[i] == ' ' or line[i] in FRAME:
            i += 1
            continue
        start = i
        while i < n and line[i] not in FRAME and not (
                line[i] == ' ' and (i + 1 == n or line[i + 1] in FRAME | {' '})):
            i += 1
        spans.append((start, i))
    return spans


def translate(line, mask):
    """The drawing's line and its mask's line with the labels in Chinese."""
    out, m = list(line), list(mask)
    at = lambda i: line[i] if 0 <= i < len(line) else ' '
    # Right to left: a change never moves the cells of a label on its left.
    for start, end in reversed(labels(line)):
        text = line[start:end]
        zh = text
        for en, word in WORDS:
            zh = re.sub(r'(?<![A-Za-z])' + en + r'(?![A-Za-z])', word, zh)
        if zh == text:
            continue
        zc = cells(zh)
        freed = len(text) - len(zc)
        assert freed >= 0, f'{zh} is wider than {text}'
        letter = m[start]
        zm = [' ' if c == ' ' else letter for c in zc]
        mat = lambda i: m[i] if 0 <= i < len(m) else ' '
        # Whether the frame character next to it (one space between at most)
        # is its own arrow's.
        left = any(at(i) in FRAME and mat(i) == letter for i in (start - 1, start - 2))
        right = any(at(i) in FRAME and mat(i) == letter for i in (end, end + 1))
        if at(end) in LINE or (at(end) == ' ' and at(end + 1) in LINE):
            # In a line: the line grows back to the label (one space stays).
            gap = 0 if at(end) in LINE else 1
            line_letter = m[end + gap]
            out[start:end + gap] = zc + [' '] * gap + ['─'] * freed
            m[start:end + gap] = zm + [' '] * gap + [line_letter] * freed
        elif right and not left:
            # Said of its arrow on the right: it stays next to it.
            out[start:end] = [' '] * freed + zc
            m[start:end] = [' '] * freed + zm
        else:
            out[start:end] = zc + [' '] * freed
            m[start:end] = zm + [' '] * freed
    return ''.join(out), ''.join(m)


def main():
    for stem in ('tall', 'wide'):
        with open(os.path.join(HERE, stem + '.txt'), encoding='utf-8') as f:
            txt = f.read().split('\n')
        with open(os.path.join(HERE, stem + '.mask'), encoding='utf-8') as f:
            mask = f.read().split('\n')
        sep = mask.index('---')
        grid, legend = mask[:sep], mask[sep:]
        rows = [translate(t, g) for t, g in zip(txt, grid)]
        with open(os.path.join(HERE, stem + '.zh.txt'), 'w', encoding='utf-8') as f:
            f.write('\n'.join(t for t, _ in rows) + '\n' * (txt[-1:] == ['']))
        with open(os.path.join(HERE, stem + '.zh.mask'), 'w', encoding='utf-8') as f:
            f.write('\n'.join([g for _, g in rows] + legend))


if __name__ == '__main__':
    main()
