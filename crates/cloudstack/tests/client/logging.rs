//! Logs name the command and attempt but never carry the secret key, the signature or the
//! signed query, even on the warn path of retries and recoveries.

use std::{
    io,
    sync::{Arc, Mutex},
};

use cloudstack::{api::DeployVirtualMachine, Params};

use crate::support::{FakeCloud, Fault, SECRET};

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn traces_hold_no_secrets() {
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let cloud = FakeCloud::new();
    cloud.add_zones(&["zone001"]);
    cloud.inject("listZones", &[Fault::Status503Before, Fault::DropAfter]);
    cloud.inject("deployVirtualMachine", &[Fault::Api530After]);
    let client = cloud.client();
    client.list_zones(&Params::new()).await.unwrap();
    client
        .deploy_virtual_machine(&DeployVirtualMachine {
            zone_id: "z".into(),
            service_offering_id: "s".into(),
            template_id: "t".into(),
            name: Some("logged".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let _ = format!("{client:?}");

    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("listZones"), "no command in logs:\n{text}");
    assert!(text.contains("attempt"), "no attempt in logs:\n{text}");
    assert!(text.contains("retrying"), "retry not logged:\n{text}");
    assert!(!text.contains(SECRET), "secret key logged");
    assert!(!text.contains("signature="), "signed query logged");
    assert!(!format!("{client:?}").contains(SECRET), "secret in Debug");
}
