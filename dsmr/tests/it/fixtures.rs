//! Telegrams in the formats real meters send, byte for byte (CRLF line endings).
//!
//! Bodies end with the `!` of the end line; [`with_crc`] appends the CRC and line ending
//! as a DSMR 4+ meter does, [`without_crc`] the line ending alone as DSMR 2.2/3.0 do.

use cogrid_dsmr::crc16_arc;

/// The example telegram of the P1 Companion Standard 5.0.2, with the CRC its bytes
/// really have. The standard prints `!EF2F`, which neither CRLF nor LF line endings
/// reproduce (see `published_5_0_2_crc_is_an_erratum`); `E47C` was computed with a
/// bit-by-bit CRC-16/ARC written independently of this crate's table-driven one.
pub(crate) const SPEC_5_0_2: &str = "\
/ISk5\\2MT382-1000\r\n\
\r\n\
1-3:0.2.8(50)\r\n\
0-0:1.0.0(101209113020W)\r\n\
0-0:96.1.1(4B384547303034303436333935353037)\r\n\
1-0:1.8.1(123456.789*kWh)\r\n\
1-0:1.8.2(123456.789*kWh)\r\n\
1-0:2.8.1(123456.789*kWh)\r\n\
1-0:2.8.2(123456.789*kWh)\r\n\
0-0:96.14.0(0002)\r\n\
1-0:1.7.0(01.193*kW)\r\n\
1-0:2.7.0(00.000*kW)\r\n\
0-0:96.7.21(00004)\r\n\
0-0:96.7.9(00002)\r\n\
1-0:99.97.0(2)(0-0:96.7.19)(101208152415W)(0000000240*s)(101208151004W)(0000000301*s)\r\n\
1-0:32.32.0(00002)\r\n\
1-0:52.32.0(00001)\r\n\
1-0:72.32.0(00000)\r\n\
1-0:32.36.0(00000)\r\n\
1-0:52.36.0(00003)\r\n\
1-0:72.36.0(00000)\r\n\
0-0:96.13.0(303132333435363738393A3B3C3D3E3F303132333435363738393A3B3C3D3E3F303132333435363738393A3B3C3D3E3F303132333435363738393A3B3C3D3E3F303132333435363738393A3B3C3D3E3F)\r\n\
1-0:32.7.0(220.1*V)\r\n\
1-0:52.7.0(220.2*V)\r\n\
1-0:72.7.0(220.3*V)\r\n\
1-0:31.7.0(001*A)\r\n\
1-0:51.7.0(002*A)\r\n\
1-0:71.7.0(003*A)\r\n\
1-0:21.7.0(01.111*kW)\r\n\
1-0:41.7.0(02.222*kW)\r\n\
1-0:61.7.0(03.333*kW)\r\n\
1-0:22.7.0(04.444*kW)\r\n\
1-0:42.7.0(05.555*kW)\r\n\
1-0:62.7.0(06.666*kW)\r\n\
0-1:24.1.0(003)\r\n\
0-1:96.1.0(3232323241424344313233343536373839)\r\n\
0-1:24.2.1(101209112500W)(12785.123*m3)\r\n\
!E47C\r\n";

/// DSMR 4.2, three-phase, summer time, with an empty text message and a power failure
/// log whose unused slots carry the meter's placeholder dates.
pub(crate) const DSMR_4_2: &str = "\
/KFM5KAIFA-METER\r\n\
\r\n\
1-3:0.2.8(42)\r\n\
0-0:1.0.0(170612093045S)\r\n\
0-0:96.1.1(4530303236303030303231323334353136)\r\n\
1-0:1.8.1(004321.007*kWh)\r\n\
1-0:1.8.2(003210.993*kWh)\r\n\
1-0:2.8.1(000512.250*kWh)\r\n\
1-0:2.8.2(001024.750*kWh)\r\n\
0-0:96.14.0(0001)\r\n\
1-0:1.7.0(00.000*kW)\r\n\
1-0:2.7.0(02.345*kW)\r\n\
0-0:96.7.21(00011)\r\n\
0-0:96.7.9(00004)\r\n\
1-0:99.97.0(2)(0-0:96.7.19)(170102081512W)(0000001234*s)(000101000001W)(2147483647*s)\r\n\
1-0:32.32.0(00000)\r\n\
1-0:52.32.0(00000)\r\n\
1-0:72.32.0(00000)\r\n\
1-0:32.36.0(00000)\r\n\
1-0:52.36.0(00000)\r\n\
1-0:72.36.0(00000)\r\n\
0-0:96.13.1()\r\n\
0-0:96.13.0()\r\n\
1-0:31.7.0(004*A)\r\n\
1-0:51.7.0(003*A)\r\n\
1-0:71.7.0(004*A)\r\n\
1-0:21.7.0(00.000*kW)\r\n\
1-0:41.7.0(00.000*kW)\r\n\
1-0:61.7.0(00.000*kW)\r\n\
1-0:22.7.0(00.781*kW)\r\n\
1-0:42.7.0(00.782*kW)\r\n\
1-0:62.7.0(00.782*kW)\r\n\
0-1:24.1.0(003)\r\n\
0-1:96.1.0(4730303331303033333738373931363136)\r\n\
0-1:24.2.1(170612090000S)(02345.678*m3)\r\n\
!";

/// DSMR 2.2: no version line, no timestamp, five-digit kWh registers, power with two
/// decimals, the gas reading on a continuation line after `0-1:24.3.0`, and no CRC.
pub(crate) const DSMR_2_2: &str = "\
/ISk5\\2ME382-1003\r\n\
\r\n\
0-0:96.1.1(4B413650303035313533383234373132)\r\n\
1-0:1.8.1(12345.678*kWh)\r\n\
1-0:1.8.2(23456.789*kWh)\r\n\
1-0:2.8.1(00000.000*kWh)\r\n\
1-0:2.8.2(00001.250*kWh)\r\n\
0-0:96.14.0(0001)\r\n\
1-0:1.7.0(0001.22*kW)\r\n\
1-0:2.7.0(0000.00*kW)\r\n\
0-0:17.0.0(0999.00*kW)\r\n\
0-0:96.3.10(1)\r\n\
0-0:96.13.1()\r\n\
0-0:96.13.0()\r\n\
0-1:24.1.0(3)\r\n\
0-1:96.1.0(3238303039303031313432323339343132)\r\n\
0-1:24.3.0(121030140000)(00)(60)(1)(0-1:24.2.1)(m3)\r\n\
(00123.456)\r\n\
0-1:24.4.0(1)\r\n\
!";

/// Belgian e-MUCS (Fluvius): version on `0-0:96.1.4`, quarter-hour peak `1-0:1.4.0`,
/// month peak with its time `1-0:1.6.0`, a peak history `0-0:98.1.0` with many values,
/// and gas on `0-1:24.2.3`.
pub(crate) const FLUVIUS: &str = "\
/FLU5\\253769484_A\r\n\
\r\n\
0-0:96.1.4(50217)\r\n\
0-0:96.1.1(3153414123456789303132333435)\r\n\
0-0:1.0.0(230117224515W)\r\n\
1-0:1.8.1(000123.456*kWh)\r\n\
1-0:1.8.2(000234.567*kWh)\r\n\
1-0:2.8.1(000345.678*kWh)\r\n\
1-0:2.8.2(000012.345*kWh)\r\n\
0-0:96.14.0(0001)\r\n\
1-0:1.4.0(00.512*kW)\r\n\
1-0:1.6.0(230110184500W)(04.329*kW)\r\n\
0-0:98.1.0(3)(1-0:1.6.0)(1-0:1.6.0)(221101000000W)(221021183000S)(03.124*kW)(221201000000W)(221118191500W)(03.871*kW)(230101000000W)(221219174500W)(04.012*kW)\r\n\
1-0:1.7.0(00.412*kW)\r\n\
1-0:2.7.0(00.000*kW)\r\n\
1-0:21.7.0(00.412*kW)\r\n\
1-0:22.7.0(00.000*kW)\r\n\
1-0:32.7.0(231.5*V)\r\n\
1-0:31.7.0(002.12*A)\r\n\
0-0:96.3.10(1)\r\n\
0-0:17.0.0(999.9*kW)\r\n\
1-0:31.4.0(999*A)\r\n\
0-0:96.13.0()\r\n\
0-1:24.1.0(003)\r\n\
0-1:96.1.1(37464C4F32313233343536373839)\r\n\
0-1:24.4.0(1)\r\n\
0-1:24.2.3(230117224000W)(00512.345*m3)\r\n\
!";

/// Luxembourg Smarty (after GCM decryption): totals `1-0:1.8.0`/`1-0:2.8.0` only,
/// reactive energy, identifier on `0-0:42.0.0`, a two-value limiter line.
pub(crate) const SMARTY: &str = "\
/Lux5\\253612345_D\r\n\
\r\n\
1-3:0.2.8(42)\r\n\
0-0:1.0.0(220704120005S)\r\n\
0-0:42.0.0(53414731303330373030303131323334)\r\n\
1-0:1.8.0(004567.891*kWh)\r\n\
1-0:2.8.0(001234.002*kWh)\r\n\
1-0:3.8.0(000120.721*kvarh)\r\n\
1-0:4.8.0(000697.336*kvarh)\r\n\
1-0:1.7.0(00.000*kW)\r\n\
1-0:2.7.0(03.210*kW)\r\n\
1-0:3.7.0(00.000*kvar)\r\n\
1-0:4.7.0(00.154*kvar)\r\n\
0-0:17.0.0(027.6*kVA)\r\n\
1-1:31.4.0(040*A)(-040*A)\r\n\
0-0:96.3.10(1)\r\n\
0-0:96.7.21(00012)\r\n\
1-0:32.32.0(00003)\r\n\
0-0:96.13.0()\r\n\
1-0:32.7.0(236.1*V)\r\n\
1-0:31.7.0(013*A)\r\n\
!";

/// A meter reporting integer `Wh` and `W` with the OBIS `*255` suffix, no version line
/// and no CRC; its power values carry hundredths of a watt.
pub(crate) const INTEGER_WH: &str = "\
/ESY5Q3DB1024 V3.04\r\n\
\r\n\
1-0:0.0.0*255(0272031312565)\r\n\
1-0:1.8.0*255(000066982736*Wh)\r\n\
1-0:2.8.0*255(000025261597*Wh)\r\n\
1-0:21.7.0*255(000210.92*W)\r\n\
1-0:1.7.0*255(000580.75*W)\r\n\
1-0:2.7.0*255(000000.00*W)\r\n\
0-0:96.1.255*255(1ESY1313002565)\r\n\
!";

/// `body` (ending in `!`) as a DSMR 4+ meter sends it: CRC in upper-case hex, then CRLF.
pub(crate) fn with_crc(body: &str) -> Vec<u8> {
    format!("{body}{:04X}\r\n", crc16_arc(body.as_bytes())).into_bytes()
}

/// `body` (ending in `!`) as a DSMR 2.2/3.0 meter sends it: the `!` line has no CRC.
pub(crate) fn without_crc(body: &str) -> Vec<u8> {
    format!("{body}\r\n").into_bytes()
}
