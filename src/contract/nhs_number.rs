//! The NHS number check digit (modulus 11), DOMAIN.md §7.

/// Why a text is not a valid NHS number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NhsNumberError {
    #[error("must be 10 digits")]
    NotTenDigits,
    #[error("has check digit {found}, expected {expected}")]
    CheckDigit { found: u32, expected: u32 },
    #[error("gives check value 10, which no valid NHS number has")]
    CheckValueTen,
}

/// Checks a 10-digit NHS number: digits 1–9 weighted 10…2, summed;
/// check = 11 − (sum mod 11), 11 → 0, 10 → invalid; it must equal digit 10.
pub fn check(text: &str) -> Result<(), NhsNumberError> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || !bytes.iter().all(u8::is_ascii_digit) {
        return Err(NhsNumberError::NotTenDigits);
    }
    let digit = |i: usize| u32::from(bytes[i] - b'0');
    let sum: u32 = (0..9).map(|i| digit(i) * (10 - i as u32)).sum();
    let expected = match 11 - sum % 11 {
        11 => 0,
        10 => return Err(NhsNumberError::CheckValueTen),
        value => value,
    };
    let found = digit(9);
    if found == expected {
        Ok(())
    } else {
        Err(NhsNumberError::CheckDigit { found, expected })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_numbers() {
        assert_eq!(check("9999999999"), Ok(()));
        assert_eq!(check("9658218873"), Ok(()));
        assert_eq!(check("9658218865"), Ok(()));
        assert_eq!(check("1234567891"), Err(NhsNumberError::CheckValueTen));
        assert_eq!(
            check("9658218872"),
            Err(NhsNumberError::CheckDigit {
                found: 2,
                expected: 3
            })
        );
    }

    #[test]
    fn shape() {
        assert_eq!(check("965821887"), Err(NhsNumberError::NotTenDigits));
        assert_eq!(check("96582188731"), Err(NhsNumberError::NotTenDigits));
        assert_eq!(check("965821887a"), Err(NhsNumberError::NotTenDigits));
        assert_eq!(check("965821887٣"), Err(NhsNumberError::NotTenDigits));
        assert_eq!(check(""), Err(NhsNumberError::NotTenDigits));
    }

    #[test]
    fn check_value_ten_is_invalid() {
        // 1000000010: sum = 10*1 + 2*1 = 12, 12 mod 11 = 1, 11 - 1 = 10.
        assert_eq!(check("1000000010"), Err(NhsNumberError::CheckValueTen));
        assert!(NhsNumberError::CheckValueTen.to_string().contains("10"));
    }
}
