//! `gridsense audit verify|export`: the hash-chained audit table, read-only.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

/// `gridsense audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the chain; report the first broken link and exit 1 if there is one.
    Verify {
        /// The gateway's SQLite file.
        #[arg(long)]
        db: PathBuf,
    },
    /// Write the chain as JSON lines for an auditor.
    Export {
        /// The gateway's SQLite file.
        #[arg(long)]
        db: PathBuf,
        /// Output file (`-` for standard output).
        #[arg(long)]
        out: PathBuf,
    },
}

fn open_existing(db: &std::path::Path) -> Result<crate::store::Store, String> {
    crate::store::Store::open_read_only(db).map_err(|e| format!("{}: {e}", db.display()))
}

/// Runs `audit ...`.
pub fn main(command: &AuditCommand) -> ExitCode {
    let result = match command {
        AuditCommand::Verify { db } => {
            open_existing(db).and_then(|c| match c.verify_audit().map_err(|e| e.to_string())? {
                Ok(v) => {
                    let head = crate::audit::chain::hex(&v.head);
                    println!("{}: ok, {} records, head {head}", db.display(), v.records);
                    Ok(ExitCode::SUCCESS)
                }
                Err(b) => {
                    println!("{}: BROKEN at {b}", db.display());
                    Ok(ExitCode::from(1))
                }
            })
        }
        AuditCommand::Export { db, out } => open_existing(db).and_then(|c| {
            let n = if out.as_os_str() == "-" {
                c.export_audit(&mut std::io::stdout().lock())
            } else {
                let f =
                    std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
                c.export_audit(&mut std::io::BufWriter::new(f))
            };
            let n = n.map_err(|e| e.to_string())?;
            eprintln!("{n} records exported");
            Ok(ExitCode::SUCCESS)
        }),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}
