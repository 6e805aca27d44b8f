/** Names of the action's inputs and outputs: action.yml, the code and the tests use these. */
export const Input = {
  Mode: 'mode',
  Region: 'region',
  Instance: 'instance',
  SnapshotName: 'snapshot-name',
  ImageId: 'image-id',
  Metadata: 'metadata',
  Wait: 'wait',
  Timeout: 'timeout',
  IgnoreMissing: 'ignore-missing',
  AuthUrl: 'auth-url',
  Username: 'username',
  Password: 'password',
  UserDomainName: 'user-domain-name',
  ProjectId: 'project-id',
  ProjectName: 'project-name',
  ProjectDomainName: 'project-domain-name',
  ApplicationCredentialId: 'application-credential-id',
  ApplicationCredentialSecret: 'application-credential-secret',
  Interface: 'interface',
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
  Concurrency: 'concurrency',
  RateLimit: 'rate-limit',
} as const;

export const Output = {
  ImageId: 'image-id',
  ImageName: 'image-name',
  ImageStatus: 'image-status',
  ImageSize: 'image-size',
  InstanceId: 'instance-id',
  InstanceName: 'instance-name',
  VolumeBacked: 'volume-backed',
  VolumeSnapshotIds: 'volume-snapshot-ids',
  Duration: 'duration-seconds',
  DeletedImageIds: 'deleted-image-ids',
  DeletedCount: 'deleted-count',
  PlannedImageIds: 'planned-image-ids',
  KeptImageIds: 'kept-image-ids',
  PreviousImageId: 'previous-image-id',
  BackupImageId: 'backup-image-id',
  ApiRequests: 'api-requests',
} as const;

/** Properties this action sets on the images it creates, so later runs (and people) can find them. */
export const Property = {
  ManagedBy: 'managed_by',
  InstanceId: 'source_instance_id',
  InstanceName: 'source_instance_name',
  RequestId: 'snapshot_request_id',
  /** On the snapshot restore takes before it rebuilds (snapshot-before): the image it restored. */
  BeforeRestoreOf: 'taken_before_restore_of',
} as const;

export const MANAGED_BY = 'openstack-snapshot-action';
