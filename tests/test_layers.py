"""DESIGN.md's layering: a package imports only the layers below it."""
import ast
import pathlib

import offramp

LAYERS = ["config", "trace", "ir", "interp", "heap", "native", "opt", "runtime", "lox",
          "tools", "cli", "__main__"]
BASE = {"config", "trace"}
ROOT = pathlib.Path(offramp.__file__).parent


def layer_of(path: pathlib.Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imported_layers(path: pathlib.Path):
    """The offramp layers a module imports (absolute or relative)."""
    tree = ast.parse(path.read_text())
    depth = len(path.relative_to(ROOT).parts) - 1
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level > depth:
                    parts = (node.module or "").split(".")
                    yield parts[0] if parts[0] else node.names[0].name
                elif node.level == depth and depth == 0:
                    yield (node.module or "").split(".")[0]
            elif node.module and node.module.startswith("offramp."):
                yield node.module.split(".")[1]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("offramp."):
                    yield alias.name.split(".")[1]


def test_every_import_goes_down_the_layers():
    violations = []
    for path in ROOT.rglob("*.py"):
        own = layer_of(path)
        if own == "__init__":
            continue
        for layer in imported_layers(path):
            if layer in BASE or layer == own:
                continue
            if layer not in LAYERS or LAYERS.index(layer) >= LAYERS.index(own):
                violations.append(f"{path.relative_to(ROOT)} imports {layer}")
    assert violations == []
