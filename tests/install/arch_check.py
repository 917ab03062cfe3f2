"""docs/ARCHITECTURE.md's list of links between the parts is what the
zc_part() lines of src/*/CMakeLists.txt declare, and every public header
include/zc/NAME.h belongs to a part src/NAME.

usage: arch_check.py SOURCE_DIR
"""
import re
import sys
from pathlib import Path

root = Path(sys.argv[1])
declared = {}
for cm in sorted(root.glob("src/*/CMakeLists.txt")):
    for m in re.finditer(r"zc_part\((\w+)([^)]*)\)", cm.read_text()):
        declared[m.group(1)] = [d[3:] for d in m.group(2).split() if d.startswith("zc_")]
# Only links to other parts (zc_ipsec_mb, zc_nifti are vendored libraries).
declared = {p: [d for d in deps if d in declared] for p, deps in declared.items()}
doc = (root / "docs/ARCHITECTURE.md").read_text()
block = re.search(r"<!-- links:.*?-->\n(.*?)<!-- end links -->", doc, re.S).group(1)
drawn = {}
for line in block.splitlines():
    if line.strip():
        part, _, deps = line.strip().partition(":")
        drawn[part] = deps.split()
bad = False
if drawn != declared:
    print("docs/ARCHITECTURE.md links differ from zc_part():")
    for p in sorted(set(drawn) | set(declared)):
        if drawn.get(p) != declared.get(p):
            print(f"  {p}: doc {drawn.get(p)} cmake {declared.get(p)}")
    bad = True
for h in sorted((root / "include/zc").glob("*.h")):
    if h.stem not in declared:
        print(f"include/zc/{h.name} has no part src/{h.stem}")
        bad = True
sys.exit(1 if bad else 0)
