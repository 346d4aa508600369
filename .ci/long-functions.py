#!/usr/bin/env python3
"""Lists the functions in src/ longer than a limit (80 lines unless given), counted from the `fn`
line to the closing brace at its indentation (rustfmt layout); test modules are left out.

    python3 .ci/long-functions.py [LIMIT] [DIR]
"""
import os, re, sys
limit = int(sys.argv[1]) if len(sys.argv) > 1 else 80
root = sys.argv[2] if len(sys.argv) > 2 else 'src'
fn_re = re.compile(r'^(\s*)(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)')
rows = []
for dirpath, _, names in os.walk(root):
    for name in names:
        if not name.endswith('.rs'):
            continue
        path = os.path.join(dirpath, name)
        lines = open(path).read().split('\n')
        i = 0
        while i < len(lines):
            line = lines[i]
            if re.match(r'^\s*#\[cfg\(test\)\]', line):
                break  # tests modules sit at the end of a file
            m = fn_re.match(line)
            if m and not line.rstrip().endswith(';'):
                indent = m.group(1)
                j = i
                # the body ends at the first line that is the indentation plus `}`
                while j < len(lines) and not (lines[j] == indent + '}' or (j == i and line.rstrip().endswith('}'))):
                    j += 1
                length = j - i + 1
                if length > limit:
                    rows.append((length, path, i + 1, m.group(7)))
            i += 1
for length, path, line, fn in sorted(rows, reverse=True):
    print(f'{length:4} {path}:{line} {fn}')
