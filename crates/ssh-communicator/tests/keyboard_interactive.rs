//! A password login on a server that only asks through `keyboard-interactive` (PAM-only
//! images): the communicator answers the prompts with the password, as Packer's Go
//! communicator does, and a wrong password is refused, not retried forever. The server is
//! a minimal russh server, since OpenSSH asks that way only through PAM.

#![allow(clippy::unwrap_used)]

use std::{borrow::Cow, sync::Arc, time::Duration};

use russh::{
    keys::{ssh_key::private::Ed25519Keypair, PrivateKey},
    server::{Auth, Response},
    MethodKind, MethodSet,
};
use ssh_communicator::{Auth as Login, Endpoint, Session, Target};

const PASSWORD: &str = "kbd-Pa55";

struct PamLike;

impl russh::server::Handler for PamLike {
    type Error = russh::Error;

    async fn auth_password(&mut self, _user: &str, _password: &str) -> Result<Auth, Self::Error> {
        Ok(Auth::Reject {
            proceed_with_methods: Some(MethodSet::from(&[MethodKind::KeyboardInteractive][..])),
            partial_success: false,
        })
    }

    async fn auth_keyboard_interactive<'a>(
        &'a mut self,
        _user: &str,
        _submethods: &str,
        response: Option<Response<'a>>,
    ) -> Result<Auth, Self::Error> {
        Ok(match response {
            None => Auth::Partial {
                name: Cow::Borrowed(""),
                instructions: Cow::Borrowed(""),
                prompts: Cow::Owned(vec![(Cow::Borrowed("Password: "), false)]),
            },
            Some(mut answers) => match answers.next() {
                Some(a) if a.as_ref() == PASSWORD.as_bytes() => Auth::Accept,
                _ => Auth::reject(),
            },
        })
    }
}

/// Serves [`PamLike`] on a loopback port; returns the port.
async fn serve() -> u16 {
    let key = PrivateKey::from(Ed25519Keypair::from_seed(&[7; 32]));
    let config = Arc::new(russh::server::Config {
        methods: MethodSet::from(&[MethodKind::Password, MethodKind::KeyboardInteractive][..]),
        auth_rejection_time: Duration::from_millis(10),
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![key],
        ..Default::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let config = config.clone();
            tokio::spawn(async move {
                if let Ok(session) = russh::server::run_stream(config, stream, PamLike).await {
                    let _ = session.await;
                }
            });
        }
    });
    port
}

fn target(port: u16, password: &str) -> Target {
    Target::new(Endpoint {
        host: "127.0.0.1".into(),
        port,
        username: "ubuntu".into(),
        auth: vec![Login::Password(password.into())],
    })
}

#[tokio::test]
async fn a_password_is_given_to_keyboard_interactive_prompts() {
    let port = serve().await;
    let session = Session::connect(&target(port, PASSWORD)).await.unwrap();
    session.close().await;
    let err = Session::connect(&target(port, "wrong")).await.unwrap_err();
    assert!(err.is_auth_refused(), "{err}");
    assert!(!err.to_string().contains("wrong"), "{err}");
}
