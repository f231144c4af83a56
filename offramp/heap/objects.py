"""The Lox object kinds' API: constructors and accessors, by tagref64 word.

`LoxObjects` is the half of the Heap that knows Lox: one group of methods per kind of
layout.py, each method reading or writing the fields at the table's offsets.  It relies on
the other half (heap.py) for `_alloc` (allocation, which may collect), `_index` (a checked
word -> mem64 index) and the views.  Accessors on the interpreter's hot paths (box, closure,
instance field and array access, method lookup) inline their checks instead of calling
`_index`: each call saved is a measurable fraction of an access.

Allocation protects the arguments of the call that allocates and nothing else; see the rule
in heap.py's docstring.
"""
import zlib
from array import array

from ..ir.tagref import ADDR_MASK, NIL
from .errors import HeapError, HeapIndexError, OutOfMemory
from .layout import (
    ARRAY_ELEMENTS, ARRAY_LENGTH, BOUND_METHOD_METHOD, BOUND_METHOD_RECEIVER, BOX_VALUE,
    CLASS_METHODS, CLASS_NAME, CLASS_ROOT_SHAPE, CLOSURE_FUNCTION, CLOSURE_UPVALUE_COUNT,
    CLOSURE_UPVALUES, FUNCTION_ARITY, FUNCTION_CODE_ID, FUNCTION_NAME, FUNCTION_UPVALUE_COUNT,
    HEADER_KIND_MASK, HEADER_LOW_MASK, HEADER_SHAPE_SHIFT, HEADER_SIZE_MASK, HEADER_SIZE_SHIFT,
    INSTANCE_FIELDS, INSTANCE_KLASS, MAX_OBJECT_WORDS, NATIVE_ARITY, NATIVE_NAME,
    LOCK_BIAS, LOCK_HOLDER, NATIVE_NATIVE_ID, STRING_BYTES, THREAD_THREAD_INDEX, STRING_HASH, STRING_LENGTH, TABLE_COUNT, TABLE_ENTRIES,
    VALUES_SLOTS, ObjKind, make_header,
)
from .shapes import Shape

# Kind ids as plain ints (comparing with an IntEnum member is slower on hot paths).
STRING, FUNCTION, CLOSURE, BOX = (int(ObjKind.STRING), int(ObjKind.FUNCTION),
                                  int(ObjKind.CLOSURE), int(ObjKind.BOX))
CLASS, INSTANCE, BOUND_METHOD = int(ObjKind.CLASS), int(ObjKind.INSTANCE), int(ObjKind.BOUND_METHOD)
NATIVE, ARRAY, TABLE, VALUES = (int(ObjKind.NATIVE), int(ObjKind.ARRAY), int(ObjKind.TABLE),
                                int(ObjKind.VALUES))
THREAD, LOCK = int(ObjKind.THREAD), int(ObjKind.LOCK)

# Word indices (byte offset / 8) of the fields.
_STR_HASH, _STR_LEN, _STR_BYTES = STRING_HASH >> 3, STRING_LENGTH >> 3, STRING_BYTES >> 3
_FN_NAME, _FN_ARITY = FUNCTION_NAME >> 3, FUNCTION_ARITY >> 3
_FN_CODE, _FN_UPVALS = FUNCTION_CODE_ID >> 3, FUNCTION_UPVALUE_COUNT >> 3
_CL_FN, _CL_COUNT, _CL_UPVALS = (CLOSURE_FUNCTION >> 3, CLOSURE_UPVALUE_COUNT >> 3,
                                 CLOSURE_UPVALUES >> 3)
_BOX_VALUE = BOX_VALUE >> 3
_CLS_NAME, _CLS_METHODS, _CLS_ROOT = CLASS_NAME >> 3, CLASS_METHODS >> 3, CLASS_ROOT_SHAPE >> 3
_INST_CLASS, _INST_FIELDS = INSTANCE_KLASS >> 3, INSTANCE_FIELDS >> 3
_BM_RECV, _BM_METHOD = BOUND_METHOD_RECEIVER >> 3, BOUND_METHOD_METHOD >> 3
_NAT_NAME, _NAT_ARITY, _NAT_ID = NATIVE_NAME >> 3, NATIVE_ARITY >> 3, NATIVE_NATIVE_ID >> 3
_ARR_LEN, _ARR_ELEMS = ARRAY_LENGTH >> 3, ARRAY_ELEMENTS >> 3
MAX_ARRAY_LENGTH = MAX_OBJECT_WORDS - _ARR_ELEMS    # the most elements an ARRAY can hold
_TBL_COUNT, _TBL_ENTRIES = TABLE_COUNT >> 3, TABLE_ENTRIES >> 3
_VAL_SLOTS = VALUES_SLOTS >> 3
_THR_INDEX = THREAD_THREAD_INDEX >> 3
_LOCK_HOLDER, _LOCK_BIAS = LOCK_HOLDER >> 3, LOCK_BIAS >> 3

# Headers of the fixed-size kinds (instances add their shape id).
_H_FUNCTION = make_header(FUNCTION, _FN_UPVALS + 1)
_H_BOX = make_header(BOX, _BOX_VALUE + 1)
_H_CLASS = make_header(CLASS, _CLS_ROOT + 1)
_H_INSTANCE = make_header(INSTANCE, _INST_FIELDS + 1)
_H_BOUND = make_header(BOUND_METHOD, _BM_METHOD + 1)
_H_NATIVE = make_header(NATIVE, _NAT_ID + 1)
_H_THREAD = make_header(THREAD, _THR_INDEX + 1)
_H_LOCK = make_header(LOCK, _LOCK_BIAS + 1)
LOCK_REVOKED = 1 << 62          # the bias of a lock that is a real lock: no thread id

_MIN_TABLE = 8                  # entries in a new method table
_MIN_FIELDS = 4                 # slots in an instance's first field storage
_RAW_LIMIT = 1 << 63


def _check_raw(value: int, what: str) -> int:
    """A raw (untraced) field value: a non-negative int below 2**63."""
    if not (isinstance(value, int) and 0 <= value < _RAW_LIMIT):
        raise HeapError(f"{what} must be a non-negative integer below 2**63, got {value!r}")
    return value


class LoxObjects:
    """Constructors and accessors of every object kind (mixed into Heap)."""

    # -- strings -------------------------------------------------------------------------

    def intern(self, text: str) -> int:
        """The one STRING with this content (allocated on first use)."""
        word = self._interned.get(text)
        if word is not None:
            return word
        data = text.encode("utf-8", "surrogatepass")
        n = len(data)
        nwords = _STR_BYTES + ((n + 7) >> 3)
        i = self._alloc(nwords, STRING | (nwords << HEADER_SIZE_SHIFT))
        m = self.mem64
        m[i + _STR_HASH] = zlib.crc32(data)
        m[i + _STR_LEN] = n
        if n:
            m[i + nwords - 1] = 0                   # zero the padding of the last word
            off = (i + _STR_BYTES) << 3
            self.memory.mem8[off:off + n] = data
        word = self._rb + (i << 3)
        self._interned[text] = word
        self._texts[word] = text
        return word

    def string_text(self, word: int) -> str:
        """The text of a STRING."""
        text = self._texts.get(word)
        if text is None:
            raise self._wrong_kind(word, STRING)
        return text

    def string_hash(self, word: int) -> int:
        """The stored hash of a STRING (crc32 of its UTF-8 bytes)."""
        return self.mem64[self._index(word, STRING) + _STR_HASH]

    def string_length(self, word: int) -> int:
        """The length of a STRING in UTF-8 bytes."""
        return self.mem64[self._index(word, STRING) + _STR_LEN]

    def string_bytes(self, word: int) -> bytes:
        """The UTF-8 bytes of a STRING, read from memory (what native code sees)."""
        i = self._index(word, STRING)
        off = (i + _STR_BYTES) << 3
        return bytes(self.memory.mem8[off:off + self.mem64[i + _STR_LEN]])

    def concat(self, a: int, b: int) -> int:
        """The interned concatenation of two STRINGs (OutOfMemory when Python itself has no
        room for the text, which a long string built by doubling can reach first)."""
        try:
            return self.intern(self.string_text(a) + self.string_text(b))
        except MemoryError as error:
            if isinstance(error, OutOfMemory):
                raise
            raise OutOfMemory(f"no memory for a string of {self.string_length(a)} + "
                              f"{self.string_length(b)} bytes") from None

    def interned_count(self) -> int:
        """How many strings the intern table holds."""
        return len(self._texts)

    # -- functions, closures, boxes ------------------------------------------------------

    def new_function(self, name: int, arity: int, code_id: int, upvalue_count: int) -> int:
        """A FUNCTION; name is a STRING or NIL (the top-level script)."""
        if name != NIL:
            self._index(name, STRING)
        _check_raw(arity, "arity")
        _check_raw(code_id, "code_id")
        _check_raw(upvalue_count, "upvalue_count")
        i = self._alloc(5, _H_FUNCTION, (name,))
        m = self.mem64
        m[i + _FN_NAME] = name
        m[i + _FN_ARITY] = arity
        m[i + _FN_CODE] = code_id
        m[i + _FN_UPVALS] = upvalue_count
        return self._rb + (i << 3)

    def function_name(self, fn: int) -> int:
        """A FUNCTION's name (STRING or NIL)."""
        return self.mem64[self._index(fn, FUNCTION) + _FN_NAME]

    def function_arity(self, fn: int) -> int:
        """A FUNCTION's parameter count."""
        return self.mem64[self._index(fn, FUNCTION) + _FN_ARITY]

    def function_code_id(self, fn: int) -> int:
        """The runtime's id for a FUNCTION's code."""
        return self.mem64[self._index(fn, FUNCTION) + _FN_CODE]

    def function_upvalue_count(self, fn: int) -> int:
        """How many variables a FUNCTION's closures capture."""
        return self.mem64[self._index(fn, FUNCTION) + _FN_UPVALS]

    def new_box(self, value: int) -> int:
        """A BOX holding value (a captured variable)."""
        i = self._alloc(2, _H_BOX, (value,))
        self.mem64[i + _BOX_VALUE] = value
        return self._rb + (i << 3)

    def box_get(self, box: int) -> int:
        """The value in a BOX."""
        m = self.mem64
        i = (box - self._rb) >> 3
        if not 0 <= i < self._n or (m[i] & HEADER_KIND_MASK) != BOX:
            raise self._wrong_kind(box, BOX)
        return m[i + _BOX_VALUE]

    def box_set(self, box: int, value: int) -> None:
        """Store value in a BOX."""
        m = self.mem64
        i = (box - self._rb) >> 3
        if not 0 <= i < self._n or (m[i] & HEADER_KIND_MASK) != BOX:
            raise self._wrong_kind(box, BOX)
        m[i + _BOX_VALUE] = value

    def new_closure(self, fn: int, upvalues=()) -> int:
        """A CLOSURE of FUNCTION fn capturing the given BOXes (as many as fn declares)."""
        count = len(upvalues)
        if self.mem64[self._index(fn, FUNCTION) + _FN_UPVALS] != count:
            raise HeapError(f"function captures {self.function_upvalue_count(fn)} variables, "
                            f"given {count}")
        for box in upvalues:
            self._index(box, BOX)
        nwords = _CL_UPVALS + count
        i = self._alloc(nwords, CLOSURE | (nwords << HEADER_SIZE_SHIFT), (fn, *upvalues))
        m = self.mem64
        m[i + _CL_FN] = fn
        m[i + _CL_COUNT] = count
        if count:
            m[i + _CL_UPVALS:i + nwords] = array("Q", upvalues)
        return self._rb + (i << 3)

    def closure_function(self, closure: int) -> int:
        """The FUNCTION of a CLOSURE."""
        m = self.mem64
        i = (closure - self._rb) >> 3
        if not 0 <= i < self._n or (m[i] & HEADER_KIND_MASK) != CLOSURE:
            raise self._wrong_kind(closure, CLOSURE)
        return m[i + _CL_FN]

    def closure_upvalue_count(self, closure: int) -> int:
        """How many BOXes a CLOSURE holds."""
        return self.mem64[self._index(closure, CLOSURE) + _CL_COUNT]

    def closure_upvalue(self, closure: int, k: int) -> int:
        """The k-th captured BOX of a CLOSURE."""
        m = self.mem64
        i = (closure - self._rb) >> 3
        if not 0 <= i < self._n or (m[i] & HEADER_KIND_MASK) != CLOSURE:
            raise self._wrong_kind(closure, CLOSURE)
        if not 0 <= k < m[i + _CL_COUNT]:
            raise HeapIndexError(f"upvalue {k} of a closure with {m[i + _CL_COUNT]}")
        return m[i + _CL_UPVALS + k]

    # -- natives -------------------------------------------------------------------------

    def new_native(self, name: int, arity: int, native_id: int) -> int:
        """A NATIVE function; native_id names its implementation in the runtime."""
        self._index(name, STRING)
        _check_raw(arity, "arity")
        _check_raw(native_id, "native_id")
        i = self._alloc(4, _H_NATIVE, (name,))
        m = self.mem64
        m[i + _NAT_NAME] = name
        m[i + _NAT_ARITY] = arity
        m[i + _NAT_ID] = native_id
        return self._rb + (i << 3)

    def native_name(self, native: int) -> int:
        """A NATIVE's name (STRING)."""
        return self.mem64[self._index(native, NATIVE) + _NAT_NAME]

    def native_arity(self, native: int) -> int:
        """A NATIVE's parameter count."""
        return self.mem64[self._index(native, NATIVE) + _NAT_ARITY]

    def native_id(self, native: int) -> int:
        """The runtime's id for a NATIVE's implementation."""
        return self.mem64[self._index(native, NATIVE) + _NAT_ID]

    # -- tables (class method tables) ----------------------------------------------------

    def _new_table(self, capacity: int, protect) -> int:
        """A TABLE with `capacity` (a power of two) empty entries; its mem64 index."""
        nwords = _TBL_ENTRIES + 2 * capacity
        i = self._alloc(nwords, TABLE | (nwords << HEADER_SIZE_SHIFT), protect)
        self.mem64[i + _TBL_COUNT] = 0
        self._fill_nil(i + _TBL_ENTRIES, 2 * capacity)
        return i

    def _table_slot(self, t: int, key: int) -> int:
        """mem64 index of key's entry in the TABLE at index t, or of the empty entry for it."""
        m = self.mem64
        mask = ((((m[t] >> HEADER_SIZE_SHIFT) & HEADER_SIZE_MASK) - _TBL_ENTRIES) >> 1) - 1
        j = m[((key - self._rb) >> 3) + _STR_HASH] & mask
        entries = t + _TBL_ENTRIES
        while True:
            k = m[entries + 2 * j]
            if k == key or k == NIL:
                return entries + 2 * j
            j = (j + 1) & mask

    def _table_entries(self, t: int) -> list:
        """The (key, value) pairs of the TABLE at index t."""
        m = self.mem64
        size = (m[t] >> HEADER_SIZE_SHIFT) & HEADER_SIZE_MASK
        words = m[t + _TBL_ENTRIES:t + size].tolist()
        return [(words[j], words[j + 1]) for j in range(0, len(words), 2) if words[j] != NIL]

    # -- classes -------------------------------------------------------------------------

    def new_class(self, name: int) -> int:
        """A CLASS with no methods, and the root shape of its instances."""
        self._index(name, STRING)
        i = self._alloc(4, _H_CLASS, (name,))
        m = self.mem64
        m[i + _CLS_NAME] = name
        m[i + _CLS_METHODS] = NIL
        cls = self._rb + (i << 3)
        m[i + _CLS_ROOT] = self.shapes.new_root(cls & ADDR_MASK).id
        t = self._new_table(_MIN_TABLE, (cls,))
        m[i + _CLS_METHODS] = self._rb + (t << 3)
        return cls

    def class_name(self, cls: int) -> int:
        """A CLASS's name (STRING)."""
        return self.mem64[self._index(cls, CLASS) + _CLS_NAME]

    def class_root_shape(self, cls: int) -> Shape:
        """The root shape of a CLASS's instances."""
        return self._shape_by_id[self.mem64[self._index(cls, CLASS) + _CLS_ROOT]]

    def class_find_method(self, cls: int, name: int) -> int | None:
        """The method a CLASS has under name (a STRING), or None."""
        m, rb, n = self.mem64, self._rb, self._n
        i = (cls - rb) >> 3
        if not 0 <= i < n or (m[i] & HEADER_KIND_MASK) != CLASS:
            raise self._wrong_kind(cls, CLASS)
        k = (name - rb) >> 3
        if not 0 <= k < n or (m[k] & HEADER_KIND_MASK) != STRING:
            raise self._wrong_kind(name, STRING)
        t = (m[i + _CLS_METHODS] - rb) >> 3
        mask = ((((m[t] >> HEADER_SIZE_SHIFT) & HEADER_SIZE_MASK) - _TBL_ENTRIES) >> 1) - 1
        j = m[k + _STR_HASH] & mask
        entries = t + _TBL_ENTRIES
        while True:                 # linear probing; the table always has an empty entry
            key = m[entries + 2 * j]
            if key == name:
                return m[entries + 2 * j + 1]
            if key == NIL:
                return None
            j = (j + 1) & mask

    def class_set_method(self, cls: int, name: int, method: int) -> None:
        """Define (or redefine) a CLASS's method under name; method may be any value."""
        m = self.mem64
        i = self._index(cls, CLASS)
        self._index(name, STRING)
        t = (m[i + _CLS_METHODS] - self._rb) >> 3
        slot = self._table_slot(t, name)
        if m[slot] != name:
            count = m[t + _TBL_COUNT]
            capacity = (((m[t] >> HEADER_SIZE_SHIFT) & HEADER_SIZE_MASK) - _TBL_ENTRIES) >> 1
            if 4 * (count + 1) > 3 * capacity:
                t = self._grow_methods(i, t, capacity, (cls, name, method))
                slot = self._table_slot(t, name)
            m[t + _TBL_COUNT] += 1
            m[slot] = name
        m[slot + 1] = method

    def _grow_methods(self, i: int, t: int, capacity: int, protect) -> int:
        """Replace the method TABLE of the CLASS at index i by one twice as big."""
        new = self._new_table(2 * capacity, protect)
        m = self.mem64
        for key, value in self._table_entries(t):
            slot = self._table_slot(new, key)
            m[slot] = key
            m[slot + 1] = value
        m[new + _TBL_COUNT] = m[t + _TBL_COUNT]
        m[i + _CLS_METHODS] = self._rb + (new << 3)
        return new

    def class_methods(self, cls: int) -> list:
        """A CLASS's (name, method) pairs, in table order."""
        i = self._index(cls, CLASS)
        return self._table_entries((self.mem64[i + _CLS_METHODS] - self._rb) >> 3)

    def class_inherit(self, sub: int, sup: int) -> None:
        """Copy every method of CLASS sup into CLASS sub (clox's inheritance)."""
        self._index(sub, CLASS)
        with self.handles(sub, sup):
            for name, method in self.class_methods(sup):
                self.class_set_method(sub, name, method)

    # -- instances -----------------------------------------------------------------------

    def new_instance(self, cls: int) -> int:
        """An INSTANCE of CLASS cls with no fields (storage sized for the class's usual)."""
        m = self.mem64
        root_id = m[self._index(cls, CLASS) + _CLS_ROOT]
        i = self._alloc(3, _H_INSTANCE | (root_id << HEADER_SHAPE_SHIFT), (cls,))
        m[i + _INST_CLASS] = cls
        m[i + _INST_FIELDS] = NIL
        inst = self._rb + (i << 3)
        capacity = self._shape_by_id[root_id].max_fields
        if capacity:
            m[i + _INST_FIELDS] = self._new_values(capacity, (inst,))
        return inst

    def _new_values(self, capacity: int, protect) -> int:
        """A VALUES object of `capacity` NIL slots; its reference."""
        nwords = _VAL_SLOTS + capacity
        i = self._alloc(nwords, VALUES | (nwords << HEADER_SIZE_SHIFT), protect)
        self._fill_nil(i + _VAL_SLOTS, capacity)
        return self._rb + (i << 3)

    def instance_class(self, inst: int) -> int:
        """The CLASS of an INSTANCE."""
        return self.mem64[self._index(inst, INSTANCE) + _INST_CLASS]

    def instance_shape(self, inst: int) -> Shape:
        """The current shape of an INSTANCE."""
        return self._shape_by_id[self.mem64[self._index(inst, INSTANCE)] >> HEADER_SHAPE_SHIFT]

    def instance_shape_id(self, inst: int) -> int:
        """The shape id in an INSTANCE's header (what an inline cache compares)."""
        return self.mem64[self._index(inst, INSTANCE)] >> HEADER_SHAPE_SHIFT

    def instance_get_field(self, inst: int, name: int) -> int | None:
        """An INSTANCE's field called name (a STRING), or None when it has none."""
        m = self.mem64
        i = (inst - self._rb) >> 3
        if not 0 <= i < self._n or ((h := m[i]) & HEADER_KIND_MASK) != INSTANCE:
            raise self._wrong_kind(inst, INSTANCE)
        slot = self._shape_by_id[h >> HEADER_SHAPE_SHIFT].slot_of.get(name)
        if slot is None:
            return None
        return m[((m[i + _INST_FIELDS] - self._rb) >> 3) + _VAL_SLOTS + slot]

    def instance_set_field(self, inst: int, name: int, value: int) -> None:
        """Set an INSTANCE's field called name (a STRING), adding it if new."""
        m = self.mem64
        i = (inst - self._rb) >> 3
        if not 0 <= i < self._n or ((h := m[i]) & HEADER_KIND_MASK) != INSTANCE:
            raise self._wrong_kind(inst, INSTANCE)
        shape = self._shape_by_id[h >> HEADER_SHAPE_SHIFT]
        slot = shape.slot_of.get(name)
        if slot is None:
            self._add_field(i, shape, inst, name, value)
            return
        m[((m[i + _INST_FIELDS] - self._rb) >> 3) + _VAL_SLOTS + slot] = value

    def _add_field(self, i: int, shape: Shape, inst: int, name: int, value: int) -> None:
        """Move the INSTANCE at index i to the shape with field `name`, storing value."""
        child = shape.transitions.get(name)
        if child is None:                       # a new edge: name must be a STRING
            self._index(name, STRING)
            child = self.shapes.transition(shape, name)
        m = self.mem64
        slot = len(shape.names)
        fields = m[i + _INST_FIELDS]
        capacity = 0 if fields == NIL else (
            (m[(fields - self._rb) >> 3] >> HEADER_SIZE_SHIFT) & HEADER_SIZE_MASK
        ) - _VAL_SLOTS
        if slot >= capacity:
            grown = self._new_values(max(_MIN_FIELDS, 2 * capacity, child.root.max_fields),
                                     (inst, name, value))
            if capacity:
                old = ((fields - self._rb) >> 3) + _VAL_SLOTS
                new = ((grown - self._rb) >> 3) + _VAL_SLOTS
                m[new:new + capacity] = m[old:old + capacity]
            m[i + _INST_FIELDS] = fields = grown
        m[((fields - self._rb) >> 3) + _VAL_SLOTS + slot] = value
        m[i] = (m[i] & HEADER_LOW_MASK) | (child.id << HEADER_SHAPE_SHIFT)

    def instance_fields(self, inst: int) -> list:
        """An INSTANCE's (name, value) pairs in slot order."""
        return [(name, self.instance_get_field(inst, name))
                for name in self.instance_shape(inst).names]

    # -- bound methods -------------------------------------------------------------------

    def new_bound_method(self, receiver: int, method: int) -> int:
        """A BOUND_METHOD binding method (a CLOSURE or NATIVE) to receiver."""
        kind = self.kind_of(method)
        if kind != CLOSURE and kind != NATIVE:
            raise self._wrong_kind(method, (CLOSURE, NATIVE))
        i = self._alloc(3, _H_BOUND, (receiver, method))
        m = self.mem64
        m[i + _BM_RECV] = receiver
        m[i + _BM_METHOD] = method
        return self._rb + (i << 3)

    def bound_receiver(self, bound: int) -> int:
        """The receiver of a BOUND_METHOD."""
        return self.mem64[self._index(bound, BOUND_METHOD) + _BM_RECV]

    def bound_method(self, bound: int) -> int:
        """The method (CLOSURE or NATIVE) of a BOUND_METHOD."""
        return self.mem64[self._index(bound, BOUND_METHOD) + _BM_METHOD]

    # -- arrays --------------------------------------------------------------------------

    def new_array(self, length: int) -> int:
        """An ARRAY of `length` NILs."""
        _check_raw(length, "array length")
        if length > MAX_ARRAY_LENGTH:
            raise HeapError(f"array of {length} elements is larger than the largest "
                            f"({MAX_ARRAY_LENGTH})")
        nwords = _ARR_ELEMS + length
        i = self._alloc(nwords, ARRAY | (nwords << HEADER_SIZE_SHIFT))
        self.mem64[i + _ARR_LEN] = length
        self._fill_nil(i + _ARR_ELEMS, length)
        return self._rb + (i << 3)

    def array_length(self, arr: int) -> int:
        """The number of elements of an ARRAY."""
        return self.mem64[self._index(arr, ARRAY) + _ARR_LEN]

    def array_get(self, arr: int, k: int) -> int:
        """Element k of an ARRAY."""
        m = self.mem64
        i = (arr - self._rb) >> 3
        if not 0 <= i < self._n or (m[i] & HEADER_KIND_MASK) != ARRAY:
            raise self._wrong_kind(arr, ARRAY)
        if not 0 <= k < m[i + _ARR_LEN]:
            raise HeapIndexError(f"index {k} outside an array of {m[i + _ARR_LEN]}")
        return m[i + _ARR_ELEMS + k]

    def array_set(self, arr: int, k: int, value: int) -> None:
        """Store value as element k of an ARRAY."""
        m = self.mem64
        i = (arr - self._rb) >> 3
        if not 0 <= i < self._n or (m[i] & HEADER_KIND_MASK) != ARRAY:
            raise self._wrong_kind(arr, ARRAY)
        if not 0 <= k < m[i + _ARR_LEN]:
            raise HeapIndexError(f"index {k} outside an array of {m[i + _ARR_LEN]}")
        m[i + _ARR_ELEMS + k] = value

    # -- threads and locks -------------------------------------------------------------

    def new_thread(self, index: int) -> int:
        """A THREAD standing for the VM thread at `index` of the VM's table."""
        _check_raw(index, "thread index")
        i = self._alloc(_THR_INDEX + 1, _H_THREAD)
        self.mem64[i + _THR_INDEX] = index
        return self._rb + (i << 3)

    def thread_index(self, thread: int) -> int:
        """The VM thread index of a THREAD."""
        return self.mem64[self._index(thread, THREAD) + _THR_INDEX]

    def new_lock(self) -> int:
        """A free LOCK, biased to no thread yet."""
        i = self._alloc(_LOCK_BIAS + 1, _H_LOCK)
        self.mem64[i + _LOCK_HOLDER] = 0
        self.mem64[i + _LOCK_BIAS] = 0
        return self._rb + (i << 3)

    def lock_holder(self, lock: int) -> int:
        """A LOCK's holder: its thread id (index + 1), or 0 when free."""
        return self.mem64[self._index(lock, LOCK) + _LOCK_HOLDER]

    def set_lock_holder(self, lock: int, holder: int) -> None:
        """Make thread id `holder` the LOCK's holder (0: free)."""
        _check_raw(holder, "lock holder")
        self.mem64[self._index(lock, LOCK) + _LOCK_HOLDER] = holder

    def lock_bias(self, lock: int) -> int:
        """The thread id a LOCK is biased to (0: none yet; LOCK_REVOKED: none any more)."""
        return self.mem64[self._index(lock, LOCK) + _LOCK_BIAS]

    def set_lock_bias(self, lock: int, bias: int) -> None:
        _check_raw(bias, "lock bias")
        self.mem64[self._index(lock, LOCK) + _LOCK_BIAS] = bias
