import type { ChangeDetails } from '../events/events.repository';

/** zitadel.object.v2.Details as returned by every transport (uint64 as a decimal string). */
export interface DetailsMessage {
  sequence: string;
  changeDate: Date;
  resourceOwner: string;
  creationDate?: Date;
}

export function detailsMessage(details: ChangeDetails): DetailsMessage {
  return {
    sequence: String(details.sequence),
    changeDate: details.changeDate,
    resourceOwner: details.resourceOwner,
    creationDate: details.creationDate,
  };
}
