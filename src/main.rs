// mimalloc: parsing a large KB is allocation-heavy, and the system allocator was a tenth of it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `purge_delay` and `allow_thp` options (`mi_option_purge_delay` and
/// `mi_option_allow_thp` in its v2 `mimalloc.h`; the Rust bindings name only some options).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const MI_OPTION_ALLOW_THP: libmimalloc_sys::mi_option_t = 37;

/// `serve`, `hooks` and `watch` live for days and hold little: tuned for resident memory.
///
/// They hand what each reload, request or round freed back to the system at once, instead of
/// after mimalloc's delay, which only passes while the same thread allocates again — idle worker
/// threads kept tens of MB. (Short commands keep the delay: purging at once made `list` of
/// 10,000 runbooks a third slower.)
///
/// And no transparent huge pages: mimalloc asks for them (`MADV_HUGEPAGE`) on its segments, so
/// one live object kept a whole 2 MiB page resident, and khugepaged folded sparse ranges back
/// into full ones over time: `watch` of the shipped checks held 14.5 MiB of heap and grew to a
/// 40.5 MiB RSS in 10 minutes; without them, 7.7 MiB of heap and a flat 28 MiB RSS.
fn tune_for_long_running() {
    // SAFETY: sets plain integer options; mimalloc reads options atomically.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
        libmimalloc_sys::mi_option_set(MI_OPTION_ALLOW_THP, 0);
    }
    // The option covers segments mimalloc maps from now on; the prctl those it mapped before
    // main (the kernel then neither faults nor collapses huge pages in this process, nor in the
    // step processes it starts, which inherit it). Where it fails, it only costs memory.
    // The kernel reads the four arguments as unsigned longs (and refuses non-zero unused ones).
    let (disable, unused): (std::ffi::c_ulong, std::ffi::c_ulong) = (1, 0);
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory of ours.
    let _ = unsafe { prctl(PR_SET_THP_DISABLE, disable, unused, unused, unused) };
}

/// `PR_SET_THP_DISABLE` in `<linux/prctl.h>`; declared here, as rustix has it only behind its
/// `thread` feature, which would rebuild tantivy and clap.
const PR_SET_THP_DISABLE: std::ffi::c_int = 41;

unsafe extern "C" {
    /// glibc's and musl's `prctl(2)`.
    fn prctl(option: std::ffi::c_int, ...) -> std::ffi::c_int;
}

fn main() {
    let hooks = runbook::cli::Hooks { long_running: Some(tune_for_long_running) };
    std::process::exit(runbook::cli::main_with(&hooks));
}
