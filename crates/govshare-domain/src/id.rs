//! Identifiers: every `XxxId` of the domain is a UUID v7 in a newtype, declared once with [`define_id!`].

/// Declares an identifier newtype over [`uuid::Uuid`], serialized as the bare hyphenated string.
///
/// ```text
/// define_id! {
///     /// Identity of a catalog entry across its versions.
///     pub struct EntryId, field "entry_id", message "目录标识格式错误"
/// }
/// ```
///
/// The type gets a public tuple field `.0`, the derives `Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
/// Serialize, Deserialize` (serde transparent), `new()` and `Default` (a fresh UUID v7), `from_uuid` and `uuid`,
/// `Display` (hyphenated) and `FromStr`, which trims its input and reports a bad one as a
/// [`ValidationError`](crate::ValidationError) against `field` with rule `format` and the given message.
macro_rules! define_id {
    ($(#[$meta:meta])* pub struct $name:ident, field $field:literal, message $message:literal $(,)?) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ::serde::Serialize, ::serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub ::uuid::Uuid);

        impl $name {
            /// A fresh identifier (UUID v7, so identifiers sort by creation time).
            pub fn new() -> Self {
                Self(::uuid::Uuid::now_v7())
            }

            /// The identifier holding `u`.
            pub const fn from_uuid(u: ::uuid::Uuid) -> Self {
                Self(u)
            }

            /// The UUID inside.
            pub const fn uuid(self) -> ::uuid::Uuid {
                self.0
            }
        }

        impl ::std::default::Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::ValidationError;
            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                ::uuid::Uuid::parse_str(s.trim())
                    .map(Self)
                    .map_err(|_| $crate::ValidationError::new($field, "format", $message))
            }
        }
    };
}

pub(crate) use define_id;

#[cfg(test)]
mod tests {
    use std::fmt::{Debug, Display};
    use std::str::FromStr;

    use serde::Serialize;
    use serde::de::DeserializeOwned;
    use uuid::Uuid;

    use crate::ValidationError;
    use crate::application::ApplicationId;
    use crate::catalog::EntryId;
    use crate::grant::GrantId;
    use crate::obligation::ObligationId;
    use crate::org::OrgId;
    use crate::principal::CredentialId;
    use crate::user::UserId;

    define_id! {
        /// An identifier declared only for these tests.
        pub struct SampleId, field "sample_id", message "样例标识格式错误"
    }

    const TEXT: &str = "01890a5d-ac96-774b-bcce-b302099a8057";

    /// What every identifier must do, checked through its public surface only.
    fn check<T>(field: &str, message: &str, make: fn(Uuid) -> T, new: fn() -> T, unwrap: fn(T) -> Uuid)
    where
        T: FromStr<Err = ValidationError> + Display + Debug + Copy + Eq + Serialize + DeserializeOwned,
    {
        let uuid = Uuid::parse_str(TEXT).unwrap();
        let id = make(uuid);
        assert_eq!(unwrap(id), uuid);

        // Display is the hyphenated form, and FromStr reads it back.
        assert_eq!(id.to_string(), TEXT);
        assert_eq!(T::from_str(&id.to_string()).unwrap(), id);
        let fresh = new();
        assert_eq!(T::from_str(&fresh.to_string()).unwrap(), fresh);
        assert_eq!(unwrap(fresh).get_version_num(), 7);

        // FromStr trims.
        assert_eq!(T::from_str(&format!("  {TEXT}\t\n")).unwrap(), id);

        // Bad input names the field, the rule and the type's message.
        for bad in ["", "   ", "not-a-uuid", "01890a5d-ac96-774b-bcce-b302099a805", "01890a5d ac96"] {
            let err = T::from_str(bad).unwrap_err();
            assert_eq!(err.field, field, "{bad:?}");
            assert_eq!(err.rule, "format", "{bad:?}");
            assert_eq!(err.message, message, "{bad:?}");
        }

        // Serde is transparent: the bare string, both ways.
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{TEXT}\""));
        assert_eq!(serde_json::from_str::<T>(&format!("\"{TEXT}\"")).unwrap(), id);
        assert!(serde_json::from_str::<T>(&format!("{{\"0\":\"{TEXT}\"}}")).is_err());
        assert!(serde_json::from_str::<T>("\"not-a-uuid\"").is_err());
    }

    #[test]
    fn sample_id_behaves() {
        check("sample_id", "样例标识格式错误", SampleId::from_uuid, SampleId::new, SampleId::uuid);
        let uuid = Uuid::parse_str(TEXT).unwrap();
        assert_eq!(SampleId(uuid), SampleId::from_uuid(uuid));
        assert_eq!(SampleId(uuid).0, uuid);
        assert_ne!(SampleId::default(), SampleId::default());
        const CONST_ID: SampleId = SampleId::from_uuid(Uuid::nil());
        const CONST_UUID: Uuid = CONST_ID.uuid();
        assert_eq!(CONST_UUID, Uuid::nil());
    }

    #[test]
    fn domain_ids_keep_their_fields_and_messages() {
        check("entry_id", "目录标识格式错误", EntryId::from_uuid, EntryId::new, EntryId::uuid);
        check(
            "application_id",
            "共享申请标识格式错误",
            ApplicationId::from_uuid,
            ApplicationId::new,
            ApplicationId::uuid,
        );
        check("grant_id", "共享授权标识格式错误", GrantId::from_uuid, GrantId::new, GrantId::uuid);
        check("obligation_id", "更新义务标识格式错误", ObligationId::from_uuid, ObligationId::new, ObligationId::uuid);
        check("org_id", "组织标识格式错误", OrgId::from_uuid, OrgId::new, OrgId::uuid);
        check("credential_id", "凭证标识格式错误", CredentialId::from_uuid, CredentialId::new, CredentialId::uuid);
        check("user_id", "用户标识格式错误", UserId::from_uuid, UserId::new, UserId::uuid);
    }

    #[test]
    fn ids_order_by_uuid() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert!(OrgId(a) < OrgId(b));
        assert!(SampleId::from_uuid(a) < SampleId::from_uuid(b));
    }
}
