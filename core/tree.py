"""The module tree made from dotted tensor names, with every count computed once, bottom-up."""

from __future__ import annotations

import re

from core.model import ModuleNode, TensorInfo

_DIGITS = re.compile(r"\d+")


def build_tree(tensors: list[TensorInfo]) -> ModuleNode:
    root = ModuleNode(name="", path="")
    nodes: dict[str, ModuleNode] = {"": root}
    for t in tensors:
        module = t.name.rpartition(".")[0]
        node = nodes.get(module)
        if node is None:
            node = _make_path(module, nodes)
        node.tensors.append(t)
    # A name may hold a thousand dots: every walk below is a loop over the nodes, not a
    # recursion as deep as the name.
    top_down = _top_down(root)
    for node in top_down:
        _order_numbered_children(node)
        _order_wide_levels(node)
    for node in reversed(top_down):  # children before their parent
        _add_up(node)
    for node in top_down:
        _group_wide_levels(node)
    return root


def _top_down(root: ModuleNode) -> list[ModuleNode]:
    """Every node under `root`, each before its children."""
    order = [root]
    for node in order:  # the list grows while it is walked
        order.extend(node.children.values())
    return order


WIDE = 1_000  # tensors beside each other: a view shows such a level in groups (`grouped`)


def group_size(entries: int, rows: int = WIDE) -> int:
    """`rows` entries per group, or more, so that there are at most `rows` groups."""
    return max(rows, -(-entries // rows))


def _group_wide_levels(node: ModuleNode) -> None:
    # made here, in the worker that opens the file, so that a view only has to show them
    entries = len(node.children) + len(node.tensors)
    if entries > WIDE:
        node.groups = grouped(node.path, level_entries(node), group_size(entries))


def _order_wide_levels(node: ModuleNode) -> None:
    """Tensors of a level too wide to read row by row in natural order (t2 before t10, not the
    file's text order), so that each group of them has a name that says what it holds."""
    if len(node.tensors) > WIDE:
        node.tensors.sort(key=lambda t: natural_key(t.name))


def _make_path(module: str, nodes: dict[str, ModuleNode]) -> ModuleNode:
    """The node at `module`, made with every missing ancestor (outermost first)."""
    missing = [module]
    parent_path = module.rpartition(".")[0]
    while parent_path not in nodes:
        missing.append(parent_path)
        parent_path = parent_path.rpartition(".")[0]
    parent = nodes[parent_path]
    for path in reversed(missing):
        name = path.rpartition(".")[2]
        node = ModuleNode(name=name, path=path)
        parent.children[name] = node
        nodes[path] = node
        parent = node
    return parent


def _order_numbered_children(node: ModuleNode) -> None:
    """Numbered blocks in numeric order (2 before 10) where the file listed them as text;
    named children keep the order the file gave them (a state dict's module order)."""
    keys = list(node.children)
    numbered = sorted((k for k in keys if k.isdigit()), key=int)
    if numbered and numbered != [k for k in keys if k.isdigit()]:
        it = iter(numbered)
        ordered = [next(it) if k.isdigit() else k for k in keys]
        node.children = {k: node.children[k] for k in ordered}


def level_entries(node: ModuleNode) -> list[ModuleNode | TensorInfo]:
    """What a node holds, one row each: its children then its tensors, or for a group node its
    entries in the order they were grouped in."""
    return node.entry_order or [*node.children.values(), *node.tensors]


def grouped(path: str, entries: list[ModuleNode | TensorInfo], size: int) -> list[ModuleNode]:
    """The entries of the module at `path`, in their order, in consecutive groups of `size`, each
    a node of its own with the counts of what it holds and a name saying which it holds
    (`t0 … t999`): a view can show 100,000 siblings as 100 rows. Group nodes keep the module's
    path; they are not modules."""
    return [group_of(path, entries[at : at + size]) for at in range(0, len(entries), size)]


def group_of(path: str, entries: list[ModuleNode | TensorInfo]) -> ModuleNode:
    """A group node holding `entries` (modules and tensors of the module at `path`), with their
    counts, named after its first and last entry. The entries keep their order."""
    group = ModuleNode(name=f"{_entry_name(entries[0])} … {_entry_name(entries[-1])}", path=path)
    for entry in entries:
        if isinstance(entry, ModuleNode):
            group.children[entry.name] = entry
        else:
            group.tensors.append(entry)
    group.entry_order = entries
    _add_up(group)
    return group


def natural_key(name: str) -> str:
    """A sort key that puts `layers.2` before `layers.10`: digit runs padded to equal width."""
    return _DIGITS.sub(lambda digits: digits.group().zfill(12), name)


def _entry_name(entry: ModuleNode | TensorInfo) -> str:
    return entry.name if isinstance(entry, ModuleNode) else entry.name.rpartition(".")[2]


def _add_up(node: ModuleNode) -> None:
    """A node's counts from its tensors and its children's counts (already made)."""
    counts = {"weight": 0, "bias": 0, "other": 0}
    buffer = quant = state = nbytes = tensor_count = 0
    dtypes: set[str] = set()
    roles: set[str] = set()
    for child in node.children.values():
        counts["weight"] += child.weight
        counts["bias"] += child.bias
        counts["other"] += child.other
        buffer += child.buffer
        quant += child.quant
        state += child.state
        nbytes += child.nbytes
        tensor_count += child.tensor_count
        dtypes.update(child.dtypes)
        if child.role:
            roles.add(child.role)
        elif child.params:
            roles.add("*")
    for t in node.tensors:
        tensor_count += 1
        if t.tied_to is not None:
            continue
        nbytes += t.nbytes
        dtypes.add(t.dtype)
        if t.section != "model":
            state += t.numel
        elif t.role == "buffer":
            buffer += t.numel
        elif t.role == "quant":
            quant += t.numel
        else:
            counts[t.kind] += t.numel
            roles.add(t.role)
    node.weight, node.bias, node.other = counts["weight"], counts["bias"], counts["other"]
    node.buffer, node.quant, node.state, node.nbytes, node.tensor_count = (
        buffer,
        quant,
        state,
        nbytes,
        tensor_count,
    )
    node.dtypes = tuple(sorted(dtypes))
    node.role = roles.pop() if len(roles) == 1 and "*" not in roles else ""
