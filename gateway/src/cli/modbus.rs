//! `gridsense modbus scan`: list the slaves answering on a line.

use std::process::ExitCode;

use clap::Subcommand;

/// `gridsense modbus ...`.
#[derive(Debug, Subcommand)]
pub enum ModbusCommand {
    /// List the slaves answering on a line.
    Scan {
        /// `tcp:HOST:PORT` or `rtu:PATH[:BAUD[:8E1]]`.
        #[arg(long)]
        line: String,
        /// First unit id asked.
        #[arg(long, default_value_t = 1)]
        first: u8,
        /// Last unit id asked.
        #[arg(long, default_value_t = 247)]
        last: u8,
        /// Holding register read from each unit.
        #[arg(long, default_value_t = 0)]
        address: u16,
        /// How long each unit may take to answer, in ms.
        #[arg(long, default_value_t = 100)]
        timeout_ms: u64,
    },
}

/// Runs `modbus ...`.
pub fn main(cmd: &ModbusCommand) -> ExitCode {
    use ::modbus::scan;
    let ModbusCommand::Scan {
        line,
        first,
        last,
        address,
        timeout_ms,
    } = cmd;
    let link = match scan::parse_line(line) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: --line {e}");
            return ExitCode::from(2);
        }
    };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        eprintln!("error: cannot start the async runtime");
        return ExitCode::FAILURE;
    };
    let timeout = std::time::Duration::from_millis(*timeout_ms);
    let table = protocol::modbus::Table::Holding;
    match rt.block_on(scan::scan(&link, *first..=*last, table, *address, timeout)) {
        Ok(hits) => {
            for h in &hits {
                match h.answer {
                    Ok(v) => println!("unit {:>3}: holding[{address}] = {v}", h.unit),
                    Err(code) => println!("unit {:>3}: answered exception {code:#04x}", h.unit),
                }
            }
            println!("{} unit(s) answered on {line}", hits.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {line}: {e}");
            ExitCode::FAILURE
        }
    }
}
