//! CloudStack API client shared by the mesostack Packer builder and Terraform provider.
