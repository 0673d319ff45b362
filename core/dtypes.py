"""The element types ParamScope knows, under one canonical (torch-style) name each.

Readers translate their format's own spelling (safetensors ``BF16``, torch ``BFloat16Storage``,
``torch.bfloat16``) into these names; everything downstream speaks only the canonical one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DType:
    name: str  # canonical, e.g. "bfloat16"
    # storage bits per element (4 for packed 4-bit types; fractional for GGML blocks: q4_k 4.5)
    bits: int | float
    category: str  # "float", "int", "uint", "bool", "complex", "quant" (GGML block types)
    numpy: str | None  # numpy dtype string when numpy has the type, else None (bf16, fp8)
    block_size: int = 1  # elements per block (GGML: 32 or 256); 1 for plain element types
    block_bytes: int = 0  # bytes per block of a block-quantised type

    @property
    def is_float(self) -> bool:
        return self.category in ("float", "complex")

    def nbytes(self, numel: int) -> int:
        if self.block_size > 1:  # whole blocks: callers check numel is a multiple of the size
            return -(-numel // self.block_size) * self.block_bytes
        return (numel * self.bits + 7) // 8


_ALL = [
    DType("float64", 64, "float", "<f8"),
    DType("float32", 32, "float", "<f4"),
    DType("float16", 16, "float", "<f2"),
    DType("bfloat16", 16, "float", None),
    DType("float8_e4m3fn", 8, "float", None),
    DType("float8_e5m2", 8, "float", None),
    DType("float8_e8m0fnu", 8, "float", None),
    DType("float4_e2m1fn_x2", 8, "float", None),
    DType("complex64", 64, "complex", "<c8"),
    DType("complex128", 128, "complex", "<c16"),
    DType("int64", 64, "int", "<i8"),
    DType("int32", 32, "int", "<i4"),
    DType("int16", 16, "int", "<i2"),
    DType("int8", 8, "int", "|i1"),
    DType("uint64", 64, "uint", "<u8"),
    DType("uint32", 32, "uint", "<u4"),
    DType("uint16", 16, "uint", "<u2"),
    DType("uint8", 8, "uint", "|u1"),
    DType("bool", 8, "bool", "|b1"),
    # two elements per byte, the first in the low nibble (ONNX INT4/UINT4)
    DType("int4", 4, "int", None),
    DType("uint4", 4, "uint", None),
]

# GGML block-quantised types (llama.cpp / GGUF): type id → (name, elements per block, block bytes).
# The same table as gguf-py's GGML_QUANT_SIZES, here so the engine need not import gguf to list it.
GGML_BLOCK_TYPES: dict[int, tuple[str, int, int]] = {
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34),
    9: ("Q8_1", 32, 40),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66),
    17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18),
    21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136),
    29: ("IQ1_M", 256, 56),
    34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17),
    40: ("NVFP4", 64, 36),
    41: ("Q1_0", 128, 18),
}
# GGML's plain element types → canonical names
GGML_PLAIN_TYPES: dict[int, str] = {
    0: "float32",
    1: "float16",
    24: "int8",
    25: "int16",
    26: "int32",
    27: "int64",
    28: "float64",
    30: "bfloat16",
}
# A quantised GGML type's canonical dtype name is its GGML name in lower case ("q4_k").
_ALL += [
    DType(name.lower(), size * 8 / block, "quant", None, block, size)
    for name, block, size in GGML_BLOCK_TYPES.values()
]

DTYPES: dict[str, DType] = {d.name: d for d in _ALL}

# safetensors header spellings
SAFETENSORS_DTYPES: dict[str, str] = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
    "F8_E8M0": "float8_e8m0fnu",
    "C64": "complex64",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U64": "uint64",
    "U32": "uint32",
    "U16": "uint16",
    "U8": "uint8",
    "BOOL": "bool",
}

# torch storage classes (legacy typed storages, still written by torch.save) and dtype attributes
TORCH_STORAGE_DTYPES: dict[str, str] = {
    "DoubleStorage": "float64",
    "FloatStorage": "float32",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "Float8_e4m3fnStorage": "float8_e4m3fn",
    "Float8_e5m2Storage": "float8_e5m2",
    # quantised tensors' storages hold their stored integers (scale and zero point lie elsewhere)
    "QInt8Storage": "int8",
    "QUInt8Storage": "uint8",
    "QInt32Storage": "int32",
}

TORCH_DTYPE_ATTRS: dict[str, str] = {
    "float64": "float64",
    "double": "float64",
    "float32": "float32",
    "float": "float32",
    "float16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "float8_e4m3fn": "float8_e4m3fn",
    "float8_e5m2": "float8_e5m2",
    "float8_e8m0fnu": "float8_e8m0fnu",
    "float4_e2m1fn_x2": "float4_e2m1fn_x2",
    "complex64": "complex64",
    "cfloat": "complex64",
    "complex128": "complex128",
    "int64": "int64",
    "long": "int64",
    "int32": "int32",
    "int": "int32",
    "int16": "int16",
    "short": "int16",
    "int8": "int8",
    "uint64": "uint64",
    "uint32": "uint32",
    "uint16": "uint16",
    "uint8": "uint8",
    "bool": "bool",
}


def dtype(name: str) -> DType:
    """The DType for a canonical name; KeyError for an unknown one."""
    return DTYPES[name]


def is_float(name: str) -> bool:
    d = DTYPES.get(name)
    return d is not None and d.is_float


def is_quantised(name: str) -> bool:
    """A block-quantised type (GGML q4_k, q8_0, …): real-valued weights stored in blocks."""
    d = DTYPES.get(name)
    return d is not None and d.category == "quant"


# Canonical dtype name → numpy type of its raw storage elements (core.decode reads them; the
# names alone say which dtypes have values this engine can read, without loading numpy).
RAW_STORAGE: dict[str, str] = {
    "float64": "<f8",
    "float32": "<f4",
    "float16": "<f2",
    "bfloat16": "<u2",
    "float8_e4m3fn": "u1",
    "float8_e5m2": "u1",
    "float8_e8m0fnu": "u1",
    "int64": "<i8",
    "int32": "<i4",
    "int16": "<i2",
    "int8": "i1",
    "uint64": "<u8",
    "uint32": "<u4",
    "uint16": "<u2",
    "uint8": "u1",
    "bool": "u1",
}
