//! The artifact Packer shows after a build: the new template.

use cloudstack::Client;
use packer_sdk::{async_trait, Artifact, BoxError};

/// Builder id post-processors match on (same as the Go plugin).
pub const BUILDER_ID: &str = "packer.cloudstack";

/// A template created by a build.
pub struct TemplateArtifact {
    /// Template id.
    pub id: String,
    /// Template name.
    pub name: String,
    /// Zone id.
    pub zone_id: String,
    /// Zone name.
    pub zone_name: String,
    /// Packer generated data (`State("generated_data")`).
    pub generated_data: serde_json::Value,
    /// Client used by `destroy`.
    pub client: Client,
}

impl std::fmt::Debug for TemplateArtifact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateArtifact")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("zone_id", &self.zone_id)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Artifact for TemplateArtifact {
    fn builder_id(&self) -> String {
        BUILDER_ID.into()
    }

    fn id(&self) -> String {
        self.id.clone()
    }

    fn string(&self) -> String {
        format!(
            "A template was created: {} (id {}, zone {})",
            self.name, self.id, self.zone_name
        )
    }

    fn state(&self, name: &str) -> serde_json::Value {
        match name {
            "generated_data" => self.generated_data.clone(),
            "zone_id" => self.zone_id.clone().into(),
            _ => serde_json::Value::Null,
        }
    }

    async fn destroy(&self) -> Result<(), BoxError> {
        match self.client.delete_template(&self.id, None).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(format!("deleting template {} ({}): {e}", self.name, self.id).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_the_template() {
        let a = TemplateArtifact {
            id: "t-1".into(),
            name: "packer-1".into(),
            zone_id: "z-1".into(),
            zone_name: "zone001".into(),
            generated_data: serde_json::json!({}),
            client: Client::new(cloudstack::Config::new(
                "http://127.0.0.1:9/client/api",
                "k",
                "s",
            ))
            .unwrap(),
        };
        assert_eq!(a.builder_id(), "packer.cloudstack");
        assert_eq!(a.id(), "t-1");
        assert_eq!(
            a.string(),
            "A template was created: packer-1 (id t-1, zone zone001)"
        );
        assert_eq!(a.state("zone_id"), "z-1");
        assert!(a.state("other").is_null());
    }
}
