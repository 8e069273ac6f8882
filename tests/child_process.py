"""The environment for Python subprocesses that tests start."""
import os


def child_env(**extra):
    """os.environ with the caller's PYTHONPATH made absolute, plus `extra`. Start the
    child from a directory other than the repository root (a temporary one):
    `python -c` and `python -m` put the working directory first on sys.path, and in
    a fresh checkout the root's uncompiled pykern/ would shadow the installed
    package."""
    path = os.pathsep.join(os.path.abspath(p) for p in
                           os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)
    return dict(os.environ, PYTHONPATH=path, **extra)
