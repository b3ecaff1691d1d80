//! forge's plugin host. (Skeleton.)
