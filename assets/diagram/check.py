#!/usr/bin/env python3
"""Checks the TCP state diagram data files in this directory.

    python3 check.py            # exit status 0 when every check passes

For each of tall (<= 48x28) and wide (<= 78x19), and their Chinese
versions tall.zh and wide.zh (made by zh.py), it verifies:
  * size limits in terminal cells, and that only one-column characters are
    used (in the Chinese versions, also Chinese characters of two cells; the
    mask gives such a character two cells);
  * .txt and the grid part of .mask (above the `---` line) have the same
    number of lines and the same length line by line;
  * each of the 11 state names occurs exactly once in the .txt (CLOSED at
    most CLOSED_MAX times) and sits in a box: │ left and right of it (after
    spaces), a ┌─┐ row above and a └─┘ row below spanning exactly that box;
  * the mask holds only spaces and lowercase letters, never marks a box cell
    or a blank .txt cell;
  * the legend (`LETTER FROM TO`) uses distinct letters and known state names,
    every legend letter occurs in the mask and every mask letter is in the
    legend, every required transition (1-19) is there, and no pair twice;
  * every edge has at least one arrowhead (▶◀▲▼) among its cells, each of its
    arrowheads points straight at a border cell of its TO box, and the edge
    has a line cell (or, for a one-cell arrow, its arrowhead) next to its
    FROM box;
  * a Chinese version has the English one's boxes, lines and arrowheads in
    the same cells.
"""
import os
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))

SIZES = {'tall': (48, 28), 'wide': (78, 19), 'tall.zh': (48, 28), 'wide.zh': (78, 19)}
# The second cell of a two-cell character, in a line read as cells.
CONT = '\0'

CLOSED_MAX = 1      # set to 2 if a second CLOSED box is ever drawn

STATES = ['CLOSED', 'LISTEN', 'SYN-SENT', 'SYN-RCVD', 'ESTABLISHED',
          'FIN-WAIT-1', 'FIN-WAIT-2', 'CLOSE-WAIT', 'CLOSING', 'LAST-ACK',
          'TIME-WAIT']

REQUIRED = [  # transitions 1-19 of the brief; 20 (FIN-WAIT-1 -> TIME-WAIT) is optional
    ('CLOSED', 'LISTEN'), ('CLOSED', 'SYN-SENT'), ('LISTEN', 'SYN-RCVD'),
    ('SYN-SENT', 'SYN-RCVD'), ('SYN-SENT', 'ESTABLISHED'),
    ('SYN-RCVD', 'ESTABLISHED'), ('SYN-RCVD', 'LISTEN'),
    ('ESTABLISHED', 'FIN-WAIT-1'), ('ESTABLISHED', 'CLOSE-WAIT'),
    ('FIN-WAIT-1', 'FIN-WAIT-2'), ('FIN-WAIT-1', 'CLOSING'),
    ('FIN-WAIT-2', 'TIME-WAIT'), ('CLOSING', 'TIME-WAIT'),
    ('CLOSE-WAIT', 'LAST-ACK'), ('LAST-ACK', 'CLOSED'),
    ('TIME-WAIT', 'CLOSED'), ('LISTEN', 'CLOSED'), ('SYN-SENT', 'CLOSED'),
    ('SYN-RCVD', 'FIN-WAIT-1'),
]
OPTIONAL = [('FIN-WAIT-1', 'TIME-WAIT')]

BOX_CHARS = set('─│┌┐└┘├┤┬┴┼╭╮╰╯')
HEADS = {'▶': (0, 1), '◀': (0, -1), '▲': (-1, 0), '▼': (1, 0)}
ALLOWED = set(chr(c) for c in range(0x20, 0x7f)) | BOX_CHARS | set(HEADS)
TOP = {('┌', '┐'), ('╭', '╮')}
BOTTOM = {('└', '┘'), ('╰', '╯')}


def wide(ch):
    return unicodedata.east_asian_width(ch) in ('W', 'F')


def as_cells(line):
    """The line with CONT after each two-cell character: one char per cell."""
    return ''.join(ch + CONT if wide(ch) else ch for ch in line)


def find_all(line, word):
    """Column of each whole-word occurrence of word in line."""
    out, start = [], 0
    while True:
        i = line.find(word, start)
        if i < 0:
            return out
        before = line[i - 1] if i > 0 else ' '
        after = line[i + len(word)] if i + len(word) < len(line) else ' '
        if not (before.isalnum() or before == '-' or after.isalnum() or after == '-'):
            out.append(i)
        start = i + 1


def check(stem):
    errs = []
    err = errs.append
    max_w, max_h = SIZES[stem]
    chinese = stem.endswith('.zh')
    with open(os.path.join(HERE, stem + '.txt'), encoding='utf-8') as f:
        txt = f.read().split('\n')
    with open(os.path.join(HERE, stem + '.mask'), encoding='utf-8') as f:
        mask_all = f.read().split('\n')
    if txt and txt[-1] == '':
        txt.pop()
    if mask_all and mask_all[-1] == '':
        mask_all.pop()
    raw = txt
    txt = [as_cells(line) for line in txt]

    # ---- size and characters
    if len(txt) > max_h:
        err(f'{len(txt)} rows > {max_h}')
    for r, line in enumerate(txt):
        if len(line) > max_w:
            err(f'row {r}: {len(line)} columns > {max_w}')
        bad = sorted(set(ch for ch in raw[r] if ch not in ALLOWED
                         and not (chinese and wide(ch) and unicodedata.category(ch) == 'Lo')))
        if bad:
            err(f'row {r}: characters not allowed: {bad!r}')

    # ---- mask grid vs drawing
    if mask_all.count('---') != 1:
        err('mask must contain exactly one line `---`')
        return errs
    sep = mask_all.index('---')
    grid, legend_lines = mask_all[:sep], mask_all[sep + 1:]
    if len(grid) != len(txt):
        err(f'mask grid has {len(grid)} lines, txt has {len(txt)}')
    for r, (t, m) in enumerate(zip(txt, grid)):
        if len(t) != len(m):
            err(f'row {r}: txt length {len(t)} != mask length {len(m)}')
    H = len(txt)
    W = max((len(l) for l in txt), default=0)

    def at(r, c):
        return txt[r][c] if 0 <= r < H and 0 <= c < len(txt[r]) else ' '

    def mat(r, c):
        return grid[r][c] if 0 <= r < len(grid) and 0 <= c < len(grid[r]) else ' '

    # ---- boxes
    boxes = {}     # name -> (top, left, bottom, right) inclusive
    box_cells = set()
    for name in STATES:
        hits = [(r, c) for r, line in enumerate(txt) for c in find_all(line, name)]
        limit = CLOSED_MAX if name == 'CLOSED' else 1
        if not 1 <= len(hits) <= limit:
            err(f'{name}: found {len(hits)} times (want {"1" if limit == 1 else f"1..{limit}"})')
            continue
        for (r, c) in hits:
            left = c - 1
            while at(r, left) == ' ' and left > 0:
                left -= 1
            right = c + len(name)
            while at(r, right) == ' ' and right < W:
                right += 1
            if at(r, left) != '│' or at(r, right) != '│':
                err(f'{name}: not between │ … │ on row {r}')
                continue
            top = txt[r - 1][left:right + 1] if r > 0 else ''
            bot = txt[r + 1][left:right + 1] if r + 1 < H else ''
            span = right - left + 1
            if len(top) != span or (top[0], top[-1]) not in TOP or set(top[1:-1]) != {'─'}:
                err(f'{name}: no box top border above it (got {top!r})')
                continue
            if len(bot) != span or (bot[0], bot[-1]) not in BOTTOM or set(bot[1:-1]) != {'─'}:
                err(f'{name}: no box bottom border below it (got {bot!r})')
                continue
            boxes.setdefault(name, []).append((r - 1, left, r + 1, right))
            for rr in (r - 1, r, r + 1):
                for cc in range(left, right + 1):
                    box_cells.add((rr, cc))

    # ---- mask contents
    mask_letters = set()
    for r, m in enumerate(grid):
        for c, ch in enumerate(m):
            if ch == ' ':
                continue
            if not ('a' <= ch <= 'z'):
                err(f'mask ({r},{c}): {ch!r} is not a lowercase letter')
                continue
            mask_letters.add(ch)
            if at(r, c) == ' ':
                err(f'mask ({r},{c}): letter {ch} on a blank drawing cell')
            if at(r, c) == CONT and mat(r, c - 1) != ch:
                err(f'mask ({r},{c}): the two cells of {txt[r][c - 1]!r} have other letters')
            if (r, c) in box_cells:
                err(f'mask ({r},{c}): letter {ch} on a box cell {at(r, c)!r}')

    # ---- legend
    legend = {}
    pairs = {}
    for i, line in enumerate(legend_lines):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 3 or len(parts[0]) != 1 or not ('a' <= parts[0] <= 'z'):
            err(f'legend line {line!r}: want `LETTER FROM TO`')
            continue
        letter, frm, to = parts
        if frm not in STATES or to not in STATES:
            err(f'legend line {line!r}: unknown state name')
            continue
        if letter in legend:
            err(f'legend letter {letter} used twice')
        if (frm, to) in pairs:
            err(f'legend: {frm} -> {to} twice ({pairs[(frm, to)]} and {letter})')
        legend[letter] = (frm, to)
        pairs[(frm, to)] = letter
    for letter in sorted(set(legend) - mask_letters):
        err(f'legend letter {letter} ({legend[letter][0]} -> {legend[letter][1]}) not in mask')
    for letter in sorted(mask_letters - set(legend)):
        err(f'mask letter {letter} missing from legend')
    for (frm, to) in REQUIRED:
        if (frm, to) not in pairs:
            err(f'required edge {frm} -> {to} missing from legend')
    for (frm, to) in pairs:
        if (frm, to) not in REQUIRED and (frm, to) not in OPTIONAL:
            err(f'legend edge {frm} -> {to} is not a transition we draw')

    # ---- arrowheads and attachment
    def in_box(name, r, c):
        return any(t <= r <= b and l <= c <= rt for (t, l, b, rt) in boxes.get(name, []))

    for letter, (frm, to) in sorted(legend.items()):
        cells = [(r, c) for r, m in enumerate(grid) for c, ch in enumerate(m) if ch == letter]
        heads = [(r, c) for (r, c) in cells if at(r, c) in HEADS]
        if not heads:
            err(f'edge {letter} ({frm} -> {to}): no arrowhead')
        for (r, c) in heads:
            dr, dc = HEADS[at(r, c)]
            if not in_box(to, r + dr, c + dc) or at(r + dr, c + dc) not in BOX_CHARS:
                err(f'edge {letter} ({frm} -> {to}): arrowhead {at(r, c)} at ({r},{c}) '
                    f'does not point at the {to} box border')
        # a one-cell edge is just its arrowhead, which then touches both boxes
        drawn = [(r, c) for (r, c) in cells if at(r, c) in BOX_CHARS or at(r, c) in HEADS]
        if not any(in_box(frm, r + dr, c + dc) and at(r + dr, c + dc) in BOX_CHARS
                   for (r, c) in drawn for dr, dc in HEADS.values()):
            err(f'edge {letter} ({frm} -> {to}): no line cell touches the {frm} box')

    # ---- a Chinese version draws the English one's frame
    if chinese:
        with open(os.path.join(HERE, stem[:-3] + '.txt'), encoding='utf-8') as f:
            english = f.read().split('\n')
        frame = BOX_CHARS | set(HEADS)
        for r, line in enumerate(english):
            for c, ch in enumerate(line):
                if ch in frame and at(r, c) != ch:
                    err(f'({r},{c}): {ch!r} in English, {at(r, c)!r} in Chinese')
    return errs


def main():
    ok = True
    for stem in SIZES:
        errs = check(stem)
        if errs:
            ok = False
            print(f'{stem}: FAIL')
            for e in errs:
                print(f'  {e}')
        else:
            print(f'{stem}: ok')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
