//! The sandbox's network bridge for this crate's tests, which run as test binaries rather than
//! as `kiln` (whose `kiln sandbox-bridge` is what deployed apps use).

fn main() -> std::process::ExitCode {
    let mut args = std::env::args_os().skip(1);
    if args
        .next()
        .is_none_or(|a| a != kiln_sandbox::bridge::COMMAND)
    {
        eprintln!("usage: kiln-targets-bridge sandbox-bridge ...");
        return std::process::ExitCode::from(2);
    }
    kiln_sandbox::bridge::main(args)
}
