//! The behaviour both authenticators share, run against each through `&dyn Authenticator`.

mod common;

mod account_based {
    crate::behaviour_suite!(crate::common::account_fixture);
}

mod peer_based {
    crate::behaviour_suite!(crate::common::peer_fixture);
}
