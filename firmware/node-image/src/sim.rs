//! Simulated board: an ADC and pins that play a script, one step per tick,
//! and a sounder that reports when it changes.

use core::cell::Cell;
use core::convert::Infallible;

use cortex_m_semihosting::hprintln;
use embedded_hal::digital::{ErrorType, InputPin, OutputPin};
use firmware::AdcChannel;

/// The script's clock: which step the board is at.
#[derive(Debug, Default)]
pub struct Scene {
    step: Cell<usize>,
}

impl Scene {
    /// Moves to script step `step`.
    pub fn at(&self, step: usize) {
        self.step.set(step);
    }

    fn step(&self) -> usize {
        self.step.get()
    }
}

/// An ADC channel reading `values[step]` (the last value after the end).
#[derive(Debug)]
pub struct ScriptAdc<'a> {
    /// The shared clock.
    pub scene: &'a Scene,
    /// One raw reading per step.
    pub values: &'static [u16],
}

impl AdcChannel for ScriptAdc<'_> {
    type Error = Infallible;
    fn read_raw(&mut self) -> Result<u16, Infallible> {
        let i = self.scene.step().min(self.values.len() - 1);
        Ok(self.values[i])
    }
}

/// An input that is high at the listed steps.
#[derive(Debug)]
pub struct ScriptPin<'a> {
    /// The shared clock.
    pub scene: &'a Scene,
    /// Steps at which the input is high.
    pub high_at: &'static [usize],
}

impl ErrorType for ScriptPin<'_> {
    type Error = Infallible;
}

impl InputPin for ScriptPin<'_> {
    fn is_high(&mut self) -> Result<bool, Infallible> {
        Ok(self.high_at.contains(&self.scene.step()))
    }
    fn is_low(&mut self) -> Result<bool, Infallible> {
        self.is_high().map(|h| !h)
    }
}

/// The sounder: prints `sounder on` / `sounder off` when driven.
#[derive(Debug, Default)]
pub struct Sounder;

impl ErrorType for Sounder {
    type Error = Infallible;
}

impl OutputPin for Sounder {
    fn set_high(&mut self) -> Result<(), Infallible> {
        hprintln!("sounder on");
        Ok(())
    }
    fn set_low(&mut self) -> Result<(), Infallible> {
        hprintln!("sounder off");
        Ok(())
    }
}
