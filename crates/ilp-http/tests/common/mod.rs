//! Fixtures shared by the integration tests.

use std::sync::Arc;

use ilp_auth::{AccountAuthenticator, MemoryStore, NodeKey};

/// An account-based authenticator holding `accounts`, and a minted token for each, in order.
pub(crate) async fn authenticator(accounts: &[&str]) -> (AccountAuthenticator, Vec<String>) {
    let auth =
        AccountAuthenticator::new(NodeKey::generate().unwrap(), Arc::new(MemoryStore::new()));
    let mut tokens = Vec::new();
    for account in accounts {
        auth.add_account(account.parse().unwrap()).await.unwrap();
        let minted = auth
            .mint_token(&account.parse().unwrap(), None)
            .await
            .unwrap();
        tokens.push(minted.token.expose().to_owned());
    }
    (auth, tokens)
}
