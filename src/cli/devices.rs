//! `emovox devices`: the input devices a microphone can be chosen from.

use anyhow::bail;
use emovox::audio::capture::input_devices;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    let devices = input_devices()?;
    if devices.is_empty() {
        bail!("no input devices found: no microphone is connected, or no sound server runs");
    }
    println!(
        "{:>5}  {:<40} {:>8} {:>4}  id",
        "index", "name", "rate", "ch"
    );
    for d in devices {
        let rate = d.default_rate.map_or("?".to_owned(), |r| format!("{r}"));
        let ch = d
            .default_channels
            .map_or("?".to_owned(), |c| format!("{c}"));
        let mark = if d.is_default { "*" } else { " " };
        println!(
            "{:>4}{mark}  {:<40} {:>8} {:>4}  {}",
            d.index, d.name, rate, ch, d.id
        );
    }
    println!("(* the default input; choose one with `emovox listen --device INDEX|NAME`)");
    Ok(())
}
