#!/usr/bin/env python3
"""Generates tall.txt/tall.mask and wide.txt/wide.mask (the TCP state diagram).

The .txt/.mask files are the product; this script is only how they were laid
out, so that the drawing and its mask cannot drift apart.  Each edge is a list
of waypoints (row, col): the first is the cell next to the source box, the
last is the arrowhead next to the target box.  Labels are placed explicitly.

    python3 build.py          # rewrite the four files
    python3 check.py          # verify them
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

N, E, S, W = 'N', 'E', 'S', 'W'
STEP = {N: (-1, 0), S: (1, 0), E: (0, 1), W: (0, -1)}
LINE = {
    frozenset([N, S]): '│', frozenset([E, W]): '─',
    frozenset([S, E]): '╭', frozenset([S, W]): '╮',
    frozenset([N, E]): '╰', frozenset([N, W]): '╯',
    frozenset([N, S, E, W]): '┼',
    frozenset([N]): '│', frozenset([S]): '│',
    frozenset([E]): '─', frozenset([W]): '─',
}
HEAD = {N: '▲', S: '▼', E: '▶', W: '◀'}


class Canvas:
    def __init__(self, width, height):
        self.w, self.h = width, height
        self.kind = [[None] * width for _ in range(height)]   # box/line/head/text
        self.ch = [[' '] * width for _ in range(height)]
        self.mk = [[' '] * width for _ in range(height)]
        self.dirs = {}        # (r, c) -> {letter: set(dirs)}
        self.boxes = {}       # name -> (r, c, w)
        self.legend = []      # (letter, from, to)

    def _cell(self, r, c):
        if not (0 <= r < self.h and 0 <= c < self.w):
            sys.exit(f'cell {(r, c)} outside {self.w}x{self.h}')

    def box(self, name, r, c, w=None):
        w = w or len(name) + 2
        inner = w - 2
        left = (inner - len(name)) // 2
        rows = ['┌' + '─' * inner + '┐',
                '│' + ' ' * left + name + ' ' * (inner - left - len(name)) + '│',
                '└' + '─' * inner + '┘']
        for dr, text in enumerate(rows):
            for dc, ch in enumerate(text):
                self._cell(r + dr, c + dc)
                if self.kind[r + dr][c + dc] is not None:
                    sys.exit(f'box {name} overlaps at {(r + dr, c + dc)}')
                self.kind[r + dr][c + dc] = 'box'
                self.ch[r + dr][c + dc] = ch
        self.boxes[name] = (r, c, w)

    def _in_box(self, name, r, c):
        br, bc, bw = self.boxes[name]
        return br <= r <= br + 2 and bc <= c < bc + bw

    def _toward(self, name, r, c):
        """Directions from (r, c) that step onto box `name`."""
        return [d for d, (dr, dc) in STEP.items() if self._in_box(name, r + dr, c + dc)]

    def edge(self, letter, frm, to, pts, labels=()):
        self.legend.append((letter, frm, to))
        cells = [pts[0]]
        for (r0, c0), (r1, c1) in zip(pts, pts[1:]):
            if r0 != r1 and c0 != c1:
                sys.exit(f'edge {letter}: diagonal segment {(r0, c0)}->{(r1, c1)}')
            dr = (r1 > r0) - (r1 < r0)
            dc = (c1 > c0) - (c1 < c0)
            r, c = r0, c0
            while (r, c) != (r1, c1):
                r, c = r + dr, c + dc
                cells.append((r, c))
        src = self._toward(frm, *cells[0])
        if len(src) != 1:
            sys.exit(f'edge {letter}: first cell {cells[0]} not next to {frm}')
        dst = self._toward(to, *cells[-1])
        if len(dst) != 1:
            sys.exit(f'edge {letter}: last cell {cells[-1]} not next to {to}')

        def dir_between(a, b):
            for d, (dr, dc) in STEP.items():
                if (a[0] + dr, a[1] + dc) == b:
                    return d
            sys.exit(f'edge {letter}: cells {a} {b} not adjacent')

        for i, (r, c) in enumerate(cells):
            self._cell(r, c)
            ds = set()
            if i == 0:
                ds.add(src[0])
            else:
                ds.add(dir_between((r, c), cells[i - 1]))
            if i + 1 < len(cells):
                ds.add(dir_between((r, c), cells[i + 1]))
            if i == len(cells) - 1:
                if self.kind[r][c] is not None:
                    sys.exit(f'edge {letter}: arrowhead {(r, c)} on a used cell')
                self.kind[r][c] = 'head'
                self.ch[r][c] = HEAD[dst[0]]
                self.mk[r][c] = letter
                continue
            k = self.kind[r][c]
            if k not in (None, 'line'):
                sys.exit(f'edge {letter}: cell {(r, c)} already {k} {self.ch[r][c]!r}')
            if k == 'line':
                other = set().union(*self.dirs[(r, c)].values())
                if other & ds or {frozenset(other), frozenset(ds)} != {
                        frozenset([N, S]), frozenset([E, W])}:
                    sys.exit(f'edge {letter}: bad crossing at {(r, c)}')
            self.kind[r][c] = 'line'
            self.dirs.setdefault((r, c), {})[letter] = ds
            allds = frozenset(set().union(*self.dirs[(r, c)].values()))
            self.ch[r][c] = LINE[allds]
            if self.mk[r][c] == ' ':
                self.mk[r][c] = letter
        for (r, c, text) in labels:
            self.text(letter, r, c, text)

    def text(self, letter, r, c, text):
        for i, ch in enumerate(text):
            self._cell(r, c + i)
            if self.kind[r][c + i] is not None:
                sys.exit(f'label {text!r} ({letter}) hits {self.kind[r][c + i]} at {(r, c + i)}')
            if ch == ' ':
                continue
            self.kind[r][c + i] = 'text'
            self.ch[r][c + i] = ch
            self.mk[r][c + i] = letter

    def inline(self, letter, r, c, text):
        """Write a label over the edge's own line cells (text inside the line)."""
        for i, ch in enumerate(text):
            cell = (r, c + i)
            if self.kind[r][c + i] != 'line' or set(self.dirs[cell]) != {letter}:
                sys.exit(f'inline label {text!r} ({letter}) not on its own line at {cell}')
            self.kind[r][c + i] = 'text'
            self.ch[r][c + i] = ch
            self.mk[r][c + i] = ' ' if ch == ' ' else letter

    def write(self, stem):
        txt = [''.join(row).rstrip() for row in self.ch]
        while txt and not txt[-1]:
            txt.pop()
        # a mask cell is only ever set where the drawing has a non-space,
        # so cutting the mask row to the drawn row's length loses nothing
        lines_t = txt
        lines_m = [''.join(self.mk[i][:len(t)]) for i, t in enumerate(txt)]
        with open(os.path.join(HERE, stem + '.txt'), 'w', encoding='utf-8') as f:
            f.write('\n'.join(lines_t) + '\n')
        with open(os.path.join(HERE, stem + '.mask'), 'w', encoding='utf-8') as f:
            f.write('\n'.join(lines_m) + '\n---\n')
            for letter, frm, to in self.legend:
                f.write(f'{letter} {frm} {to}\n')


def tall():
    cv = Canvas(48, 28)
    cv.box('CLOSED', 0, 8, 32)
    cv.box('LISTEN', 5, 8, 10)
    cv.box('SYN-RCVD', 9, 8, 10)
    cv.box('SYN-SENT', 9, 31, 10)
    cv.box('ESTABLISHED', 14, 18, 17)
    cv.box('FIN-WAIT-1', 19, 2)
    cv.box('CLOSING', 19, 23)
    cv.box('CLOSE-WAIT', 19, 34)
    cv.box('FIN-WAIT-2', 24, 2)
    cv.box('TIME-WAIT', 24, 23)
    cv.box('LAST-ACK', 24, 36)
    cv.edge('a', 'CLOSED', 'LISTEN', [(3, 10), (4, 10)], [(3, 3, 'listen')])
    cv.edge('b', 'CLOSED', 'SYN-SENT', [(3, 33), (8, 33)],
            [(5, 25, 'connect'), (6, 25, 'snd SYN')])
    cv.edge('c', 'LISTEN', 'SYN-RCVD', [(8, 10)], [(8, 2, 'rcv SYN')])
    cv.edge('d', 'SYN-SENT', 'SYN-RCVD', [(10, 30), (10, 18)],
            [(9, 21, 'rcv SYN'), (11, 19, 'snd SYN,ACK')])
    cv.edge('e', 'SYN-SENT', 'ESTABLISHED', [(12, 32), (13, 32)],
            [(12, 34, 'rcv SYN,ACK'), (13, 34, 'snd ACK')])
    cv.edge('f', 'SYN-RCVD', 'ESTABLISHED', [(12, 15), (12, 20), (13, 20)],
            [(13, 22, 'rcv ACK')])
    cv.edge('g', 'SYN-RCVD', 'LISTEN', [(8, 14)], [(8, 16, 'rcv RST')])
    cv.edge('h', 'ESTABLISHED', 'FIN-WAIT-1', [(15, 17), (15, 12), (18, 12)],
            [(14, 12, 'close'), (17, 14, 'snd FIN')])
    cv.edge('i', 'ESTABLISHED', 'CLOSE-WAIT', [(15, 35), (15, 37), (18, 37)],
            [(16, 39, 'rcv FIN'), (17, 39, 'snd ACK')])
    cv.edge('j', 'FIN-WAIT-1', 'FIN-WAIT-2', [(22, 5), (23, 5)], [(22, 7, 'rcv ACK')])
    cv.edge('k', 'FIN-WAIT-1', 'CLOSING', [(20, 14), (20, 22)],
            [(19, 15, 'rcv FIN'), (21, 15, 'snd ACK')])
    cv.edge('l', 'FIN-WAIT-2', 'TIME-WAIT', [(25, 14), (25, 22)],
            [(24, 15, 'rcv FIN'), (26, 15, 'snd ACK')])
    cv.edge('m', 'CLOSING', 'TIME-WAIT', [(22, 27), (23, 27)], [(22, 29, 'rcv ACK')])
    cv.edge('n', 'CLOSE-WAIT', 'LAST-ACK', [(22, 37), (23, 37)],
            [(22, 39, 'close'), (23, 39, 'snd FIN')])
    cv.edge('o', 'LAST-ACK', 'CLOSED', [(27, 37), (27, 47), (1, 47), (1, 40)])
    cv.inline('o', 27, 39, 'rcv ACK')
    cv.edge('p', 'TIME-WAIT', 'CLOSED', [(27, 28), (27, 0), (1, 0), (1, 7)])
    cv.inline('p', 27, 8, ' 2MSL timeout ')
    cv.edge('q', 'LISTEN', 'CLOSED', [(4, 14), (3, 14)], [(3, 16, 'close')])
    cv.edge('r', 'SYN-SENT', 'CLOSED', [(8, 37), (3, 37)],
            [(5, 39, 'close'), (6, 39, 'timeout')])
    cv.edge('s', 'SYN-RCVD', 'FIN-WAIT-1', [(12, 10), (18, 10)],
            [(12, 4, 'close'), (13, 2, 'snd FIN')])
    return cv


def wide():
    cv = Canvas(78, 19)
    cv.box('CLOSED', 0, 38, 29)
    cv.box('LISTEN', 4, 36, 10)
    cv.box('SYN-RCVD', 8, 36, 10)
    cv.box('SYN-SENT', 8, 59, 10)
    cv.box('CLOSING', 12, 2)
    cv.box('FIN-WAIT-1', 12, 22)
    cv.box('ESTABLISHED', 12, 43, 19)
    cv.box('TIME-WAIT', 16, 2)
    cv.box('FIN-WAIT-2', 16, 22)
    cv.box('CLOSE-WAIT', 16, 43)
    cv.box('LAST-ACK', 16, 64)
    cv.edge('a', 'CLOSED', 'LISTEN', [(3, 39)], [(3, 30, 'listen()')])
    cv.edge('b', 'CLOSED', 'SYN-SENT', [(3, 62), (7, 62)],
            [(4, 52, 'connect()'), (5, 54, 'snd SYN')])
    cv.edge('c', 'LISTEN', 'SYN-RCVD', [(7, 39)], [(7, 19, 'rcv SYN/snd SYN,ACK')])
    cv.edge('d', 'SYN-SENT', 'SYN-RCVD', [(9, 58), (9, 46)],
            [(8, 49, 'rcv SYN'), (10, 47, 'snd SYN,ACK')])
    cv.edge('e', 'SYN-SENT', 'ESTABLISHED', [(11, 60)],
            [(11, 62, 'rcv SYN,ACK'), (12, 63, 'snd ACK')])
    cv.edge('f', 'SYN-RCVD', 'ESTABLISHED', [(11, 44)], [(11, 46, 'rcv ACK')])
    cv.edge('g', 'SYN-RCVD', 'LISTEN', [(7, 42)], [(7, 44, 'rcv RST')])
    cv.edge('h', 'ESTABLISHED', 'FIN-WAIT-1', [(13, 42), (13, 34)],
            [(12, 35, 'close()'), (14, 35, 'snd FIN')])
    cv.edge('i', 'ESTABLISHED', 'CLOSE-WAIT', [(15, 48)], [(15, 50, 'rcv FIN/snd ACK')])
    cv.edge('j', 'FIN-WAIT-1', 'FIN-WAIT-2', [(15, 27)], [(15, 29, 'rcv ACK')])
    cv.edge('k', 'FIN-WAIT-1', 'CLOSING', [(13, 21), (13, 11)],
            [(12, 13, 'rcv FIN'), (14, 13, 'snd ACK')])
    cv.edge('l', 'FIN-WAIT-2', 'TIME-WAIT', [(17, 21), (17, 13)],
            [(16, 14, 'rcv FIN'), (18, 14, 'snd ACK')])
    cv.edge('m', 'CLOSING', 'TIME-WAIT', [(15, 6)], [(15, 8, 'rcv ACK')])
    cv.edge('n', 'CLOSE-WAIT', 'LAST-ACK', [(17, 55), (17, 63)],
            [(16, 56, 'close()'), (18, 56, 'snd FIN')])
    cv.edge('o', 'LAST-ACK', 'CLOSED', [(17, 74), (17, 77), (1, 77), (1, 67)])
    cv.inline('o', 1, 69, 'rcv ACK')
    cv.edge('p', 'TIME-WAIT', 'CLOSED', [(17, 1), (17, 0), (1, 0), (1, 37)])
    cv.inline('p', 1, 12, ' 2MSL timeout ')
    cv.edge('q', 'LISTEN', 'CLOSED', [(3, 42)], [(3, 44, 'close()')])
    cv.edge('r', 'SYN-SENT', 'CLOSED', [(7, 65), (3, 65)],
            [(4, 67, 'close()'), (5, 67, 'timeout')])
    cv.edge('s', 'SYN-RCVD', 'FIN-WAIT-1', [(9, 35), (9, 26), (11, 26)],
            [(8, 28, 'close()'), (10, 28, 'snd FIN')])
    return cv


if __name__ == '__main__':
    tall().write('tall')
    wide().write('wide')
