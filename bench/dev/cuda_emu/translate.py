"""Rewrites the <<<grid, block>>> launches of a .cu file into emu::launch calls,
so the file compiles as C++ with emu.h: translate.py in.cu out.cpp"""
import sys


def matching(s, i, open_, close, step):
    """Index of the bracket matching s[i] (scanning by step)."""
    depth = 0
    while True:
        if s[i] == open_:
            depth += 1
        elif s[i] == close:
            depth -= 1
            if depth == 0:
                return i
        i += step


def split_top(s):
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def translate(src):
    out = src
    while "<<<" in out:
        at = out.index("<<<")
        i = at - 1
        if out[i] == ">":
            i = matching(out, i, ">", "<", -1) - 1
        while out[i].isalnum() or out[i] in "_:":
            i -= 1
        start = i + 1
        callee = out[start:at]
        end_cfg = out.index(">>>", at)
        grid, block = split_top(out[at + 3:end_cfg])
        p0 = end_cfg + 3
        assert out[p0] == "(", out[start:p0 + 20]
        p1 = matching(out, p0, "(", ")", 1)
        args = out[p0 + 1:p1]
        new = f"::emu::launch(dim3({grid.strip()}), dim3({block.strip()}), [&] {{ {callee}({args}); }})"
        out = out[:start] + new + out[p1 + 1:]
    return out


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        text = f.read()
    with open(sys.argv[2], "w") as f:
        f.write(translate(text))
