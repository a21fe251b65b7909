//! How the stack starts its child processes (the emulator, the function environments).

use tokio::process::Command;

/// Makes `command`'s process belong to the stack alone: in its own process group, so a Ctrl-C
/// at the terminal reaches only the stack, which then stops its children in order; and, on
/// Linux, killed by the kernel if the stack itself dies without cleaning up.
pub fn owned_by_stack(command: &mut Command) -> &mut Command {
    command.process_group(0).kill_on_drop(true);
    #[cfg(target_os = "linux")]
    // SAFETY: prctl is async-signal-safe and touches only the child's own state.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command
}
