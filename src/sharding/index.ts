export { HASH_NAMES, hashFunction, isHashName, type HashName, type KeyHash } from './hash-functions.js';
export { crc16 } from './crc.js';
export { hashTagRange, parseHashTag } from './hash-tag.js';
export { keySlot, parseSlotRanges, SLOT_COUNT } from './slots.js';
export { KetamaContinuum, ketamaPoints, KETAMA_POINTS_PER_SERVER, type RingMember } from './ketama.js';
export {
  createDistributor,
  serverIdentity,
  twemproxyOrder,
  DISTRIBUTION_NAMES,
  type DistributionName,
  type Distributor,
  type DistributorOptions,
  type ShardServer,
} from './distributor.js';
