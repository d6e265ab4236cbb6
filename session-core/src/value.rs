//! Encoding values to the stored JSON text, and back.
//!
//! `serde_json` writes a NaN or infinite float as `null`, which would silently change
//! the value; the session refuses such values instead (`set` answers an error and
//! stores nothing). The check is a
//! second, allocation-free pass that only runs when the JSON contains `null`.

use serde::de::DeserializeOwned;
use serde::ser::{self, Serialize};

use crate::Error;

/// Encodes `value` as JSON for `key`.
pub(crate) fn encode<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<String, Error> {
    let json = serde_json::to_string(value).map_err(|e| Error::Encode {
        key: key.to_owned(),
        reason: e.to_string(),
    })?;
    if json.contains("null") {
        value.serialize(FiniteFloats).map_err(|e| Error::Encode {
            key: key.to_owned(),
            reason: e.0,
        })?;
    }
    Ok(json)
}

/// Decodes the JSON stored under `key` as a `T`.
pub(crate) fn decode<T: DeserializeOwned>(key: &str, json: &str) -> Result<T, Error> {
    serde_json::from_str(json).map_err(|source| Error::Decode {
        key: key.to_owned(),
        type_name: std::any::type_name::<T>(),
        source,
    })
}

/// Why a value cannot be encoded.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

impl ser::Error for Refused {
    fn custom<M: std::fmt::Display>(msg: M) -> Self {
        Refused(msg.to_string())
    }
}

/// A serializer that writes nothing and fails on a float JSON cannot carry.
struct FiniteFloats;

fn check_float(v: f64) -> Result<(), Refused> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(Refused(format!("the float {v} has no JSON form")))
    }
}

macro_rules! accept {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method(self, _: $ty) -> Result<(), Refused> { Ok(()) })*
    };
}

impl ser::Serializer for FiniteFloats {
    type Ok = ();
    type Error = Refused;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    accept!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str),
    );

    fn serialize_f32(self, v: f32) -> Result<(), Refused> {
        check_float(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Refused> {
        check_float(v)
    }
    fn serialize_none(self) -> Result<(), Refused> {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Refused> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Refused> {
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<(), Refused> {
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Refused> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        value: &T,
    ) -> Result<(), Refused> {
        value.serialize(self)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self, Refused> {
        Ok(self)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self, Refused> {
        Ok(self)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, Refused> {
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, Refused> {
        Ok(self)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self, Refused> {
        Ok(self)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, Refused> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, Refused> {
        Ok(self)
    }
}

macro_rules! compound {
    ($($trait:ident :: $method:ident),* $(,)?) => {
        $(impl ser::$trait for FiniteFloats {
            type Ok = ();
            type Error = Refused;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Refused> {
                value.serialize(FiniteFloats)
            }
            fn end(self) -> Result<(), Refused> {
                Ok(())
            }
        })*
    };
}

compound!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
);

impl ser::SerializeMap for FiniteFloats {
    type Ok = ();
    type Error = Refused;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Refused> {
        key.serialize(FiniteFloats)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Refused> {
        value.serialize(FiniteFloats)
    }
    fn end(self) -> Result<(), Refused> {
        Ok(())
    }
}

macro_rules! fields {
    ($($trait:ident),*) => {
        $(impl ser::$trait for FiniteFloats {
            type Ok = ();
            type Error = Refused;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                _: &'static str,
                value: &T,
            ) -> Result<(), Refused> {
                value.serialize(FiniteFloats)
            }
            fn end(self) -> Result<(), Refused> {
                Ok(())
            }
        })*
    };
}

fields!(SerializeStruct, SerializeStructVariant);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn nan_and_infinity_are_refused_even_nested() {
        assert!(encode("k", &f64::NAN).is_err());
        assert!(encode("k", &vec![1.0, f64::INFINITY]).is_err());
        let mut m = HashMap::new();
        m.insert("x", Some(f32::NEG_INFINITY));
        assert!(matches!(encode("k", &m), Err(Error::Encode { key, .. }) if key == "k"));
    }

    #[test]
    fn nulls_that_are_real_nulls_are_fine() -> Result<(), Error> {
        assert_eq!(encode("k", &(None::<u8>, 1.5))?, "[null,1.5]");
        Ok(())
    }

    #[test]
    fn maps_with_non_string_keys_are_refused() {
        let mut m = HashMap::new();
        m.insert((1, 2), "v");
        assert!(encode("k", &m).is_err());
    }

    #[test]
    fn decode_errors_name_the_key_and_type() {
        match decode::<u32>("count", "\"x\"") {
            Err(Error::Decode { key, type_name, .. }) => {
                assert_eq!(key, "count");
                assert_eq!(type_name, "u32");
            }
            other => panic!("expected a decode error, got {other:?}"),
        }
    }
}
