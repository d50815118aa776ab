//! Measures on recorded audio, shared by the scenarios that check what a party hears.

/// SNR in dB of `x` (8 kHz samples) against its least-squares fit `a sin + b cos` at
/// `freq`: high when `x` is a clean tone of that frequency, low (negative) when the tone
/// is absent.
pub fn tone_snr_db(x: &[i16], freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / 8_000.0;
    let (mut ss, mut cc, mut sc, mut xs, mut xc) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (n, &v) in x.iter().enumerate() {
        let (s, c) = (w * n as f64).sin_cos();
        let v = f64::from(v);
        ss += s * s;
        cc += c * c;
        sc += s * c;
        xs += v * s;
        xc += v * c;
    }
    let det = ss * cc - sc * sc;
    if det.abs() < f64::EPSILON {
        return f64::NEG_INFINITY;
    }
    let a = (xs * cc - xc * sc) / det;
    let b = (xc * ss - xs * sc) / det;
    let (mut sig, mut err) = (0.0, 0.0);
    for (n, &v) in x.iter().enumerate() {
        let (s, c) = (w * n as f64).sin_cos();
        let fit = a * s + b * c;
        sig += fit * fit;
        err += (f64::from(v) - fit).powi(2);
    }
    10.0 * (sig / err.max(1e-9)).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tone_scores_high_at_its_frequency_and_low_elsewhere() {
        let tone: Vec<i16> = (0..8_000)
            .map(|n| {
                (8_000.0 * (2.0 * std::f64::consts::PI * 450.0 * f64::from(n) / 8_000.0).sin())
                    as i16
            })
            .collect();
        assert!(tone_snr_db(&tone, 450.0) > 40.0);
        assert!(tone_snr_db(&tone, 1_000.0) < 0.0);
    }
}
