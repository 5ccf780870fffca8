//! The service network bridge as a program of its own, for this crate's tests and for hosts
//! whose services are started by something other than the `kiln` binary (which has it as
//! `kiln sandbox-bridge`).

fn main() -> std::process::ExitCode {
    let mut args = std::env::args_os().skip(1);
    if args
        .next()
        .is_none_or(|a| a != kiln_sandbox::bridge::COMMAND)
    {
        eprintln!(
            "usage: kiln-sandbox-bridge sandbox-bridge [--inbound PORT] [--outbound PORT]... -- COMMAND..."
        );
        return std::process::ExitCode::from(2);
    }
    kiln_sandbox::bridge::main(args)
}
