"""libzc's exported surface is exactly what the headers declare.

Three lists must agree: the functions (and variables) declared in
include/zc/*.h, the symbols src/zc.map exports, and the symbols libzc.so
defines (nm -D).  Every one starts with zc_.  A function declared but not
exported cannot be linked by a user; one exported but not declared is an
internal leaking into the ABI; a name without the prefix can clash with the
program's own.

usage: abi_check.py LIBZC.so ZC.map INCLUDE_DIR
"""
import re
import subprocess
import sys
from pathlib import Path

IDENT = re.compile(r"[A-Za-z_]\w*")


def strip_c(text):
    """The header without comments and preprocessor lines."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r"\\\n", " ", text)
    return "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))


def top_level_statements(text):
    """Each declaration at file scope, with the bodies of braces dropped;
    an inline function's definition ends at its closing brace.  An
    extern "C" { } block is file scope too."""
    out, cur, depth, linkage = [], "", 0, 0
    for ch in text:
        if ch == "{" and depth == 0 and re.fullmatch(r'\s*extern\s*"C"\s*', cur):
            cur, linkage = "", linkage + 1
        elif ch == "}" and depth == 0 and linkage:
            linkage -= 1
        elif ch == "{":
            if depth == 0:
                cur += "{}"
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0 and re.search(r"\)\s*\{\}$", cur):
                out.append(cur)
                cur = ""
        elif depth == 0:
            if ch == ";":
                out.append(cur)
                cur = ""
            else:
                cur += ch
    return [" ".join(s.split()) for s in out if s.strip()]


def declared_name(stmt):
    """The function or variable a declaration with external linkage names,
    or None for types, typedefs and static (inline) functions."""
    if re.match(r"(typedef|static|_Static_assert|static_assert)\b", stmt):
        return None
    if re.fullmatch(r"(struct|union|enum)(\s+\w+)?(\s*\{\})?", stmt):
        return None
    pos = 0
    while True:
        paren = stmt.find("(", pos)
        if paren < 0:  # a variable: the last name before any [ or =
            return IDENT.findall(re.split(r"[\[=]", stmt)[0])[-1]
        before = IDENT.findall(stmt[:paren])
        if before and before[-1] in ("__attribute__", "__attribute"):
            depth = 0
            for pos in range(paren, len(stmt)):
                depth += {"(": 1, ")": -1}.get(stmt[pos], 0)
                if depth == 0:
                    break
            continue
        return before[-1]


def declarations(include_dir):
    """name -> header for every external declaration in include_dir/zc."""
    names = {}
    for header in sorted(Path(include_dir, "zc").glob("*.h")):
        for stmt in top_level_statements(strip_c(header.read_text())):
            name = declared_name(stmt)
            if name:
                names[name] = header.name
    return names


def map_symbols(path):
    """The names in the version script's global: lists (no patterns)."""
    text = re.sub(r"/\*.*?\*/", " ", Path(path).read_text(), flags=re.S)
    syms, nodes = set(), set()
    for node, body in re.findall(r"([\w.]+)\s*\{(.*?)\}", text, flags=re.S):
        nodes.add(node)
        glob = re.search(r"global:(.*?)(local:|$)", body, flags=re.S)
        for entry in (glob.group(1) if glob else "").split(";"):
            entry = entry.strip()
            if entry:
                syms.add(entry)
    return syms, nodes


def exported(lib):
    """type -> names of the dynamic symbols lib defines, versions cut off."""
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True, capture_output=True,
                         text=True).stdout
    syms = {}
    for line in out.splitlines():
        fields = line.split()
        syms.setdefault(fields[-2], set()).add(fields[-1].split("@")[0])
    return syms


def main(lib, map_path, include_dir):
    declared = declarations(include_dir)
    mapped, nodes = map_symbols(map_path)
    by_type = exported(lib)
    # The linker defines one absolute symbol per version node (ZC_0.1).
    absolute = by_type.pop("A", set())
    defined = set().union(*by_type.values()) if by_type else set()
    errors = []
    for s in sorted(absolute - nodes):
        errors.append(f"{s}: an absolute symbol that is no version node of the map")
    for s in sorted(set(declared) | mapped | defined):
        if not s.startswith("zc_"):
            errors.append(f"{s}: public without the zc_ prefix")
        if s in declared and s not in mapped:
            errors.append(f"{s}: declared in zc/{declared[s]} but not in {map_path}: add it")
        if s in mapped and s not in declared:
            errors.append(f"{s}: in {map_path} but declared in no public header")
        if s in mapped and s not in defined:
            errors.append(f"{s}: in {map_path} but not defined by {lib}")
        if s in defined and s not in mapped:
            errors.append(f"{s}: exported by {lib} but not in {map_path}")
    for e in errors:
        print("abi:", e, file=sys.stderr)
    if not declared or not defined:
        print("abi: found no declarations or no exports: the checker is broken", file=sys.stderr)
        return 1
    print(f"abi: {len(defined)} symbols, declared = mapped = exported" if not errors else
          f"abi: {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
