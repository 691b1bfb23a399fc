//! Framing, CRC checking and parsing of DSMR P1 telegrams: the readings a Dutch,
//! Belgian or Luxembourg smart meter sends on its P1 port.
//!
//! Pure functions over bytes, no I/O: the caller reads the serial port or TCP bridge
//! and feeds a [`Framer`], or hands complete telegrams to [`parse`].
//!
//! # Supported telegrams
//!
//! | Variant | Version line | End line |
//! |---|---|---|
//! | DSMR 2.2 and 3.0 (NL) | none | bare `!`, no CRC |
//! | DSMR 4.0 to 4.2 (NL) | `1-3:0.2.8(40)` .. `(42)` | `!` + CRC-16/ARC |
//! | DSMR 5.0.x (NL), P1 Companion Standard 5.0.2 | `1-3:0.2.8(50)` | `!` + CRC-16/ARC |
//! | e-MUCS (BE, Fluvius) | `0-0:96.1.4(50217)` | `!` + CRC-16/ARC |
//! | Smarty (LU), once decrypted | `1-3:0.2.8(42)` | `!` + CRC-16/ARC |
//!
//! Smarty meters wrap each telegram in AES-128-GCM on the port; decrypting it with the
//! key from the grid operator happens before this crate.
//!
//! Each telegram yields a [`Telegram`] with the identification line, P1 version,
//! equipment identifier, timestamp, imported and exported energy in Wh (total register
//! `1-0:1.8.0`/`1-0:2.8.0` when the meter sends one, else the sum of the tariff
//! registers) and instantaneous power in W. Other OBIS codes, including multi-value
//! lines (gas `0-1:24.2.1`, the power failure log `1-0:99.97.0`) and DSMR 2.2's gas
//! continuation line, are checked for well-formedness and otherwise ignored.
//!
//! # Trust
//!
//! The CRC-16 of DSMR 4+ detects every burst of up to 16 corrupted bits and all but one
//! in 65 536 longer ones, and it is checked before any line is read. DSMR 2.2/3.0
//! telegrams carry no CRC: only the serial port's parity (7E1) and this crate's strict
//! grammar stand between a corrupted byte and a wrong reading. [`Telegram::crc`] is
//! `None` for them, so callers that need the guarantee can insist on it.
//!
//! ```
//! let body = "/ISk5\\2MT382-1000\r\n\
//!             \r\n\
//!             1-3:0.2.8(50)\r\n\
//!             0-0:1.0.0(101209113020W)\r\n\
//!             0-0:96.1.1(4B384547303034303436333935353037)\r\n\
//!             1-0:1.8.1(123456.789*kWh)\r\n\
//!             1-0:1.8.2(123456.789*kWh)\r\n\
//!             1-0:2.8.1(000010.000*kWh)\r\n\
//!             1-0:2.8.2(000000.500*kWh)\r\n\
//!             1-0:1.7.0(01.193*kW)\r\n\
//!             1-0:2.7.0(00.000*kW)\r\n\
//!             !";
//! let frame = format!("{body}{:04X}\r\n", cogrid_dsmr::crc16_arc(body.as_bytes()));
//!
//! let telegram = cogrid_dsmr::parse(frame.as_bytes())?;
//! assert_eq!(telegram.import_wh, 246_913_578);
//! assert_eq!(telegram.export_wh, 10_500);
//! assert_eq!(telegram.power_import_w, 1_193);
//! assert_eq!(
//!     telegram.timestamp.map(|t| t.to_rfc3339()).as_deref(),
//!     Some("2010-12-09T11:30:20+01:00")
//! );
//! # Ok::<(), cogrid_dsmr::DsmrError>(())
//! ```

mod crc;
mod error;
mod framer;
mod parse;
mod telegram;

pub use crc::crc16_arc;
pub use error::{DsmrError, LineError};
pub use framer::{DEFAULT_MAX_TELEGRAM_LEN, Framer};
pub use parse::parse;
pub use telegram::Telegram;
