// Debian installs the serial HDF5 headers under hdf5/serial/.
#if __has_include(<hdf5/serial/hdf5.h>)
#include <hdf5/serial/hdf5.h>
#else
#include <hdf5.h>
#endif
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

// Small wrappers for what Swift cannot reach directly: function-like macros (H5F_ACC_RDONLY,
// the predefined type ids, H5Lget_info's versioned struct) whose spelling differs between
// libhdf5 1.10 (Debian 12) and 1.12+. C compiles the right one for whichever headers are installed.

/// Turns off libhdf5's automatic printing of error stacks to stderr.
static inline void irzoo_h5_silence(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/// Read-only file access: no file locking (we only read; locks fail on read-only mounts).
static inline hid_t irzoo_h5_fapl(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return fapl;
#if (H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 10 && H5_VERS_RELEASE >= 7) || H5_VERSION_GE(1, 12, 1)
    H5Pset_file_locking(fapl, 0, 1);
#endif
    return fapl;
}

static void irzoo_h5_take_error(char out[256]);

/// Opens read-only; on failure the most specific libhdf5 message is left in err[256]
/// (taken before H5Pclose, which would clear the error stack).
static inline hid_t irzoo_h5_open(const char *path, char err[256]) {
    err[0] = 0;
    hid_t fapl = irzoo_h5_fapl();
    if (fapl < 0) { irzoo_h5_take_error(err); return fapl; }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (f < 0) irzoo_h5_take_error(err);
    H5Pclose(fapl);
    return f;
}

/// Opens an HDF5 file held in memory (the bytes are copied by libhdf5); errors as above.
static inline hid_t irzoo_h5_open_image(const void *bytes, size_t count, char err[256]) {
    err[0] = 0;
    hid_t fapl = irzoo_h5_fapl();
    if (fapl < 0) { irzoo_h5_take_error(err); return fapl; }
    if (H5Pset_fapl_core(fapl, 1 << 16, 0) < 0 || H5Pset_file_image(fapl, (void *)bytes, count) < 0) {
        irzoo_h5_take_error(err);
        H5Pclose(fapl);
        return -1;
    }
    hid_t f = H5Fopen("irzoo-in-memory.h5", H5F_ACC_RDONLY, fapl);
    if (f < 0) irzoo_h5_take_error(err);
    H5Pclose(fapl);
    return f;
}

/// 0 hard link, 1 soft, 2 external, 3 other user-defined, -1 error.
static inline int irzoo_h5_link_kind(hid_t loc, const char *name) {
    H5L_info_t info;
    if (H5Lget_info(loc, name, &info, H5P_DEFAULT) < 0) return -1;
    switch (info.type) {
    case H5L_TYPE_HARD: return 0;
    case H5L_TYPE_SOFT: return 1;
    case H5L_TYPE_EXTERNAL: return 2;
    default: return 3;
    }
}

/// A 16-byte identity of the object (its address or token), to detect hard-link cycles.
static inline int irzoo_h5_object_identity(hid_t obj, unsigned char out[16]) {
    memset(out, 0, 16);
#if H5_VERSION_GE(1, 12, 0)
    H5O_info2_t info;
    if (H5Oget_info3(obj, &info, H5O_INFO_BASIC) < 0) return -1;
    memcpy(out, &info.token, sizeof(info.token) < 16 ? sizeof(info.token) : 16);
#else
    H5O_info_t info;
    if (H5Oget_info2(obj, &info, H5O_INFO_BASIC) < 0) return -1;
    memcpy(out, &info.addr, sizeof(info.addr));
#endif
    return 0;
}

/// Little-endian memory types for the dtypes irzoo carries.
/// code: 0 f32, 1 f64, 2 f16, 3 bf16, 4 i64, 5 i32, 6 i16, 7 i8, 8 u8. The caller closes the copy.
static inline hid_t irzoo_h5_le_type(int code) {
    hid_t t = -1;
    switch (code) {
    case 0: return H5Tcopy(H5T_IEEE_F32LE);
    case 1: return H5Tcopy(H5T_IEEE_F64LE);
    case 2: // IEEE binary16: sign bit 15, exponent bits 10..14, mantissa 0..9, bias 15.
        t = H5Tcopy(H5T_IEEE_F32LE);
        if (t < 0) return t;
        if (H5Tset_fields(t, 15, 10, 5, 0, 10) < 0 || H5Tset_size(t, 2) < 0 || H5Tset_ebias(t, 15) < 0) { H5Tclose(t); return -1; }
        return t;
    case 3: // bfloat16: the top half of an f32.
        t = H5Tcopy(H5T_IEEE_F32LE);
        if (t < 0) return t;
        if (H5Tset_fields(t, 15, 7, 8, 0, 7) < 0 || H5Tset_size(t, 2) < 0 || H5Tset_ebias(t, 127) < 0) { H5Tclose(t); return -1; }
        return t;
    case 4: return H5Tcopy(H5T_STD_I64LE);
    case 5: return H5Tcopy(H5T_STD_I32LE);
    case 6: return H5Tcopy(H5T_STD_I16LE);
    case 7: return H5Tcopy(H5T_STD_I8LE);
    case 8: return H5Tcopy(H5T_STD_U8LE);
    default: return -1;
    }
}

/// A variable-length UTF-8 C string type (for reading string attributes h5py writes from `str`).
static inline hid_t irzoo_h5_vlen_string_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return t;
    if (H5Tset_size(t, H5T_VARIABLE) < 0) { H5Tclose(t); return -1; }
    return t;
}

static inline herr_t irzoo_h5_reclaim(hid_t type, hid_t space, void *buf) {
#if H5_VERSION_GE(1, 12, 0)
    return H5Treclaim(type, space, H5P_DEFAULT, buf);
#else
    return H5Dvlen_reclaim(type, space, H5P_DEFAULT, buf);
#endif
}

static inline herr_t irzoo_h5_read_dataset(hid_t dset, hid_t memtype, void *buf) {
    return H5Dread(dset, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
}

static herr_t irzoo_h5_first_error_cb(unsigned n, const H5E_error2_t *e, void *out) {
    (void)n;
    char *dst = (char *)out;
    if (dst[0] == 0 && e && e->desc && e->desc[0]) {
        strncpy(dst, e->desc, 255);
        dst[255] = 0;
    }
    return 0;
}

/// Copies the most specific message of the current error stack into out[256] and clears the stack.
static void irzoo_h5_take_error(char out[256]) {
    out[0] = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, irzoo_h5_first_error_cb, out);
    H5Eclear2(H5E_DEFAULT);
}

/// An anonymous in-memory file (close-on-exec) that the isolated HDF5 reader writes its result
/// into; -1 where the kernel lacks memfd_create (the caller then uses an unlinked temp file).
static inline int irzoo_memfd(const char *name) {
#ifdef SYS_memfd_create
    return (int)syscall(SYS_memfd_create, name, 1u /* MFD_CLOEXEC */);
#else
    (void)name;
    return -1;
#endif
}
