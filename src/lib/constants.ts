/** What the action does in a step (the `mode` input). */
export type Mode = 'create' | 'delete' | 'prune' | 'restore' | 'copy' | 'verify';
export const MODES: readonly Mode[] = ['create', 'delete', 'prune', 'restore', 'copy', 'verify'];

/** Names of the action's inputs and outputs: action.yml, the code and the tests use these. */
export const Input = {
  Mode: 'mode',
  Region: 'region',
  Instance: 'instance',
  InstanceTags: 'instance-tags',
  InstanceMetadata: 'instance-metadata',
  AllowEmptySelection: 'allow-empty-selection',
  StopInstance: 'stop-instance',
  SnapshotName: 'snapshot-name',
  SnapshotId: 'snapshot-id',
  SnapshotProperties: 'snapshot-properties',
  Wait: 'wait',
  UploadTimeout: 'upload-timeout',
  Timeout: 'timeout',
  IgnoreMissing: 'ignore-missing',
  AuthUrl: 'auth-url',
  Username: 'username',
  Password: 'password',
  UserDomainName: 'user-domain-name',
  ProjectId: 'project-id',
  ProjectName: 'project-name',
  ProjectDomainName: 'project-domain-name',
  ProjectDomainId: 'project-domain-id',
  ApplicationCredentialId: 'application-credential-id',
  ApplicationCredentialSecret: 'application-credential-secret',
  AuthType: 'auth-type',
  Cloud: 'cloud',
  UserDomainId: 'user-domain-id',
  Token: 'token',
  ClientId: 'client-id',
  ClientSecret: 'client-secret',
  IdentityProvider: 'identity-provider',
  Protocol: 'protocol',
  DiscoveryEndpoint: 'discovery-endpoint',
  AccessTokenEndpoint: 'access-token-endpoint',
  OpenidScope: 'openid-scope',
  AccessTokenType: 'access-token-type',
  OidcAudience: 'oidc-audience',
  Interface: 'interface',
  Cacert: 'cacert',
  Insecure: 'insecure',
  KeepLast: 'keep-last',
  KeepWithin: 'keep-within',
  KeepHourly: 'keep-hourly',
  KeepDaily: 'keep-daily',
  KeepWeekly: 'keep-weekly',
  KeepMonthly: 'keep-monthly',
  KeepYearly: 'keep-yearly',
  IncludeUnmanaged: 'include-unmanaged',
  DryRun: 'dry-run',
  DeleteInUse: 'delete-in-use',
  AllowOtherInstance: 'allow-other-instance',
  SnapshotBefore: 'snapshot-before',
  MaxDeletes: 'max-deletes',
  MaxParallel: 'max-parallel',
  RateLimit: 'rate-limit',
  /** Boot a throwaway server from the snapshot (mode verify; create after active). */
  Verify: 'verify',
  VerifyFlavor: 'verify-flavor',
  VerifyNetwork: 'verify-network',
  VerifyConsole: 'verify-console',
  KeepVerified: 'keep-verified',
  /** Regions (one a line) to copy the snapshot to: mode create once it is active, and mode copy. */
  CopyToRegion: 'copy-to-region',
} as const;

/**
 * Inputs renamed before the first release. The runner still passes a `with:` key it does not
 * know (as INPUT_<NAME>, with a warning), so one given under its old name fails the step instead of being ignored.
 */
export const RENAMED_INPUTS: Readonly<Record<string, string>> = {
  'image-id': Input.SnapshotId,
  metadata: Input.SnapshotProperties,
  'stop-server': Input.StopInstance,
  concurrency: Input.MaxParallel,
};

export const Output = {
  SnapshotId: 'snapshot-id',
  SnapshotName: 'snapshot-name',
  SnapshotStatus: 'snapshot-status',
  SnapshotSize: 'snapshot-size',
  InstanceId: 'instance-id',
  InstanceName: 'instance-name',
  VolumeBacked: 'volume-backed',
  VolumeSnapshotIds: 'volume-snapshot-ids',
  Duration: 'duration-seconds',
  DeletedSnapshotIds: 'deleted-snapshot-ids',
  DeletedCount: 'deleted-count',
  PlannedSnapshotIds: 'planned-snapshot-ids',
  KeptSnapshotIds: 'kept-snapshot-ids',
  PreviousImageId: 'previous-image-id',
  BackupSnapshotId: 'backup-snapshot-id',
  Snapshots: 'snapshots',
  Consistency: 'consistency',
  DowntimeSeconds: 'downtime-seconds',
  ApiRequests: 'api-requests',
  CapturedAt: 'captured-at',
  /** Mode verify (and create with verify: true): per server, the snapshot booted and how it went (JSON). */
  Verifications: 'verifications',
  /** The copies in other regions: JSON, one entry a copy (region, image ID, bytes, seconds, method). */
  Copies: 'copies',
} as const;

/** Properties this action sets on the images it creates, so later runs (and people) can find them. */
export const Property = {
  ManagedBy: 'managed_by',
  InstanceId: 'source_instance_id',
  InstanceName: 'source_instance_name',
  RequestId: 'snapshot_request_id',
  /** On the snapshot restore takes before it rebuilds (snapshot-before): the image it restored. */
  BeforeRestoreOf: 'taken_before_restore_of',
  /** The job and step (GITHUB_JOB, GITHUB_ACTION) that took it: with github_run_id, how a re-run finds the snapshot it already took. */
  Job: 'github_job',
  Step: 'github_action',
  /** On a snapshot a verify booted: when it booted (only when it did), and how the last verify went (passed or failed). */
  VerifiedAt: 'verified_at',
  VerifyResult: 'verify_result',
  VerifyCheckedAt: 'verify_checked_at',
  /** On a verify's throwaway server and the volumes Nova made for it: the snapshot it boots, the instance it is of, the run that made it. */
  VerifyOf: 'verify_of',
  VerifyInstance: 'verify_instance',
  VerifyRun: 'verify_run',
  /** On a throwaway server: this boot's own ID, to find it when Nova's answer to the create was lost. */
  VerifyRequest: 'verify_request_id',
  /** On a copy in another region: the region and the image it was copied from. */
  CopiedFromRegion: 'copied_from_region',
  CopiedFromImage: 'copied_from_image',
} as const;

export const MANAGED_BY = 'openstack-snapshot-action';

/** The name of a verify's throwaway server: this prefix and the snapshot's ID. */
export const VERIFY_PREFIX = 'osa-verify-';

/** `wait: captured`: the step returns once each disk is captured, and the post step waits for the upload. */
export const WAIT_CAPTURED = 'captured';
